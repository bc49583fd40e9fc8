using Mds.Backend.Pipelines;
using Mds.Contracts.Api;

namespace Mds.UnitTests.Pipelines;

/// <summary>Validation problems get the line their path points at, so the portal's editor can mark it.</summary>
public sealed class PipelineSpecLinesTests
{
    private const string Yaml = """
        name: p
        steps:
          - name: a
            model: iris
          - name: b
            model: iris
            inputs:
              - a.outputs.Score
              - nowhere.outputs
            tensorMap:
              a.outputs.Score: Features
        output:
          steps: [b]
        """;

    [Theory]
    [InlineData("steps[1].inputs[1]", 9)]
    [InlineData("steps[1].inputs[0]", 8)]
    [InlineData("steps[1]", 5)]
    [InlineData("steps[1].tensorMap[\"a.outputs.Score\"]", 11)]
    [InlineData("output.steps[0]", 13)]
    [InlineData("steps[1].when", 5)] // no such field: the deepest part that exists
    public void A_validator_path_gets_the_line_it_points_at(string path, int line)
    {
        var problems = PipelineSpecParser.WithLines(Yaml, "application/yaml", [new PipelineSpecProblemDto(path, "x")]);

        Assert.Equal(line, problems[0].Line);
    }

    [Fact]
    public void Seldon_resource_paths_are_found_under_spec()
    {
        const string resource = """
            apiVersion: mlops.seldon.io/v1alpha1
            kind: Pipeline
            metadata:
              name: p
            spec:
              steps:
                - name: a
                  inputs: [zzz]
            """;

        var problems = PipelineSpecParser.WithLines(resource, null, [new PipelineSpecProblemDto("steps[0].inputs[0]", "x")]);

        Assert.Equal(8, problems[0].Line);
    }

    [Fact]
    public void Json_paths_are_found_too_and_a_line_already_known_is_kept()
    {
        const string json = "{\n  \"name\": \"p\",\n  \"steps\": [\n    {\"name\": \"a\"},\n    {\"name\": \"b\",\n     \"inputs\": [\"a\"]}\n  ]\n}";

        var problems = PipelineSpecParser.WithLines(json, "application/json",
            [new PipelineSpecProblemDto("steps[1].inputs[0]", "x"), new PipelineSpecProblemDto("steps[0]", "y", 42)]);

        Assert.Equal(6, problems[0].Line);
        Assert.Equal(42, problems[1].Line);
    }
}
