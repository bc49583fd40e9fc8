using Mds.Contracts.Rules;

namespace Mds.UnitTests.Contracts;

/// <summary>The one home of the name, capability and tag rules that the backend and the portal both call.</summary>
public class RulesTests
{
    [Theory]
    [InlineData("iris", true)]
    [InlineData("Iris-2.v_1", true)]
    [InlineData("9lives", true)]
    [InlineData("a", true)]
    [InlineData("", false)]
    [InlineData(null, false)]
    [InlineData("-iris", false)]
    [InlineData(".iris", false)]
    [InlineData("_iris", false)]
    [InlineData("iris model", false)]
    [InlineData("iris/1", false)]
    [InlineData("iris:1", false)]
    [InlineData("irís", false)]
    [InlineData(" iris", false)]
    public void Model_names(string? name, bool valid) => Assert.Equal(valid, ModelNameRule.IsValid(name));

    [Fact]
    public void A_model_name_of_128_characters_is_fine_and_129_is_not()
    {
        Assert.True(ModelNameRule.IsValid(new string('a', ModelNameRule.MaxLength)));
        Assert.False(ModelNameRule.IsValid(new string('a', ModelNameRule.MaxLength + 1)));
    }

    [Theory]
    [InlineData("onnx", true)]
    [InlineData("GPU", true)] // lower-cased first
    [InlineData(" cpu ", true)] // trimmed first
    [InlineData("cuda-12_1", true)]
    [InlineData("0gpu", true)]
    [InlineData("gpu.a100", false)] // the backend's rule: no '.' (the portal used to accept it)
    [InlineData("-gpu", false)]
    [InlineData("_gpu", false)]
    [InlineData("gpu!", false)]
    [InlineData("team:risk", false)]
    [InlineData("", false)]
    [InlineData("   ", false)]
    [InlineData(null, false)]
    public void Capabilities(string? capability, bool valid) => Assert.Equal(valid, CapabilityRule.IsValid(capability));

    [Fact]
    public void A_capability_of_64_characters_is_fine_and_65_is_not()
    {
        Assert.True(CapabilityRule.IsValid(new string('c', CapabilityRule.MaxLength)));
        Assert.False(CapabilityRule.IsValid(new string('c', CapabilityRule.MaxLength + 1)));
    }

    [Theory]
    [InlineData("tabular", true)]
    [InlineData("team:risk", true)]
    [InlineData("v1.2", true)]
    [InlineData("a_b-c", true)]
    [InlineData("Tabular", false)] // tags are checked normalised
    [InlineData(":team", false)]
    [InlineData("has space", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Tags(string? tag, bool valid) => Assert.Equal(valid, ModelTagRule.IsValid(tag));

    [Fact]
    public void A_tag_of_32_characters_is_fine_and_33_is_not()
    {
        Assert.True(ModelTagRule.IsValid(new string('t', ModelTagRule.MaxLength)));
        Assert.False(ModelTagRule.IsValid(new string('t', ModelTagRule.MaxLength + 1)));
    }

    [Theory]
    [InlineData(" GPU ", "gpu")]
    [InlineData("Team:Risk", "team:risk")]
    public void Normalising_trims_and_lower_cases(string typed, string stored)
    {
        Assert.Equal(stored, CapabilityRule.Normalize(typed));
        Assert.Equal(stored, ModelTagRule.Normalize(typed));
    }

    [Theory]
    [InlineData("gpu.a100")]
    [InlineData("-gpu")]
    [InlineData("GPU")]
    [InlineData("onnx")]
    public void The_portal_and_the_backend_agree_on_every_capability(string capability) =>
        Assert.Equal(CapabilityRule.IsValid(capability), Mds.Portal.Components.Pages.Upload.UploadRules.RequirementError(capability) is null);
}
