using Mds.Backend.Experiments;
using Mds.Contracts.Api;

namespace Mds.UnitTests.Experiments;

public class ExperimentRoutingTests
{
    private static ExperimentRoute Route(params double[] weights) => new(
        "ab", "model", [.. weights.Select((_, i) => new ExperimentCandidate($"m@{i + 1}", "m", i + 1, false))], weights,
        null, 0, null, running: true, active: true, reason: null);

    [Fact]
    public void WeightedChoice_SeededSource_GivesExactlyTheCountsOfThatSequence()
    {
        var route = Route(70, 30);
        var expected = new Random(1234);
        int expectedFirst = 0;
        for (int i = 0; i < 10_000; i++)
        {
            if (expected.NextDouble() < 0.7)
            {
                expectedFirst++;
            }
        }

        var source = new Random(1234);
        var router = new ExperimentRouter(source.NextDouble);
        int first = 0;
        for (int i = 0; i < 10_000; i++)
        {
            if (router.Choose(route, null, null) == 0)
            {
                first++;
            }
        }

        Assert.Equal(expectedFirst, first);
        Assert.InRange(first, 6_850, 7_150); // and it is a 70/30 split
    }

    [Theory]
    [InlineData(0.0, 0)]
    [InlineData(0.6999, 0)]
    [InlineData(0.7, 1)]
    [InlineData(0.9999, 1)]
    public void Pick_CumulativeBoundaries(double u, int expected) => Assert.Equal(expected, ExperimentRouter.Pick(Route(70, 30).Cumulative, u));

    [Fact]
    public void WeightedChoice_ZeroWeight_NeverChosen()
    {
        var route = Route(0, 1, 0);
        var router = new ExperimentRouter(new Random(7).NextDouble);
        Assert.All(Enumerable.Range(0, 1000), _ => Assert.Equal(1, router.Choose(route, null, null)));
    }

    [Fact]
    public void Sticky_RouteHeaderSentBack_AlwaysTheSameCandidate_EvenAtWeightZero()
    {
        var route = Route(100, 0);
        var router = new ExperimentRouter(new Random(3).NextDouble);
        Assert.All(Enumerable.Range(0, 200), _ => Assert.Equal(1, router.Choose(route, "ab:m@2", null)));
        Assert.Equal(1, router.Choose(route, "other:m@1, ab:m@2", null));
    }

    [Theory]
    [InlineData("other:m@2")]
    [InlineData("ab:m@9")]
    [InlineData("ab")]
    [InlineData("")]
    public void Sticky_ForeignOrUnknownRoute_Ignored(string header) => Assert.Null(ExperimentRouter.Sticky(Route(1, 1), header));

    [Fact]
    public void RouteKey_SameKey_SameCandidate_AndKeysSpreadByWeight()
    {
        var route = Route(70, 30);
        var router = new ExperimentRouter(() => throw new InvalidOperationException("a keyed call draws no random number"));
        int first = 0;
        for (int i = 0; i < 4000; i++)
        {
            string key = "user-" + i;
            int pick = router.Choose(route, null, key);
            Assert.Equal(pick, router.Choose(route, null, key));
            first += pick == 0 ? 1 : 0;
        }

        Assert.InRange(first, 2_650, 2_950); // 70 % of 4000 ± 4.6 σ
        Assert.Equal(ExperimentRouter.HashPoint("ab", "user-1"), ExperimentRouter.HashPoint("ab", "user-1"));
        Assert.NotEqual(ExperimentRouter.HashPoint("ab", "user-1"), ExperimentRouter.HashPoint("cd", "user-1"));
    }

    [Fact]
    public void RouteValue_IsExperimentColonCandidate() => Assert.Equal("ab:m@2", ExperimentRouter.RouteValue(Route(1, 1), 1));

    [Fact]
    public void WithWeights_IsANewRoute_TheOldOneUnchanged()
    {
        var before = Route(50, 50);
        var after = before.WithWeights([10, 90]);
        Assert.Equal(0.5, before.Cumulative[0], 10);
        Assert.Equal(0.1, after.Cumulative[0], 10);
        Assert.Equal(90, after.Percent(1), 6);
    }

    [Fact]
    public void RolloutWeights_CandidateGetsTheStep_OthersShareTheRestBySpecWeight()
    {
        var spec = new ExperimentSpec("r", "model", [new("m", 1, 3), new("m", 2, 1), new("m", 3, 1)]);
        var w = ExperimentRouter.RolloutWeights(spec, "m@2", 20);
        Assert.Equal(20, w["m@2"], 10);
        Assert.Equal(60, w["m@1"], 10);
        Assert.Equal(20, w["m@3"], 10);
    }

    [Fact]
    public void Mirror_SeededSource_CopiesItsPercent()
    {
        var route = new ExperimentRoute("ab", "model", [new("m@1", "m", 1, false)], [1], new ExperimentCandidate("m@2", "m", 2, false), 25, null, true, true, null);
        var router = new ExperimentRouter(new Random(9).NextDouble);
        int copied = Enumerable.Range(0, 10_000).Count(_ => router.MirrorThis(route));
        Assert.InRange(copied, 2_350, 2_650);
    }
}
