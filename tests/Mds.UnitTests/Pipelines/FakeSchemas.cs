using Mds.Backend.Pipelines;
using Mds.Backend.Pipelines.Conditions;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;

namespace Mds.UnitTests.Pipelines;

/// <summary>Model schemas for pipeline tests, and the parse-and-validate shortcut the tests use.</summary>
internal static class FakeSchemas
{
    private static TensorMetadata T(string name, string datatype, params long[] shape) => new(name, datatype, shape);

    private static readonly ModelSchema[] All =
    [
        new("iris", 1, [T("Features", "FP32", -1, 4)], [T("PredictedLabel", "BYTES", -1, 1), T("Score", "FP32", -1, 3)]),
        new("scorer", 2, [T("Score", "FP32", -1, 3)], [T("Risk", "FP32", -1, 1)]),
        new("intscorer", 1, [T("Score", "INT64", -1, 3)], [T("Risk", "FP32", -1, 1)]),
        new("wide", 1, [T("Score", "FP32", -1, 5)], [T("Risk", "FP32", -1, 1)]),
        new("flat", 1, [T("Score", "FP32", 3)], [T("Risk", "FP32", -1, 1)]),
        new("tfsimple1", 1, [T("INPUT0", "INT32", 1, 16), T("INPUT1", "INT32", 1, 16)], [T("OUTPUT0", "INT32", 1, 16), T("OUTPUT1", "INT32", 1, 16)]),
        new("tfsimple2", 1, [T("INPUT0", "INT32", 1, 16), T("INPUT1", "INT32", 1, 16)], [T("OUTPUT0", "INT32", 1, 16), T("OUTPUT1", "INT32", 1, 16)]),
    ];

    /// <summary>Knows the models above (any version asked of them answers their one version); null for others.</summary>
    public static readonly ModelSchemaLookup Lookup = (model, version) =>
        All.FirstOrDefault(s => s.Model == model && (version is null || version == s.Version));

    public static PipelineGraph Compile(string yaml) => PipelineValidator.Validate(PipelineSpecParser.Parse(yaml, "application/yaml"), Lookup);

    public static IReadOnlyList<PipelineSpecProblemDto> Problems(string yaml)
    {
        var spec = PipelineSpecParser.Parse(yaml, "application/yaml");
        var e = Assert.Throws<PipelineSpecException>(() => PipelineValidator.Validate(spec, Lookup));
        return e.Problems;
    }

    public static string ConditionError(string text) => Assert.Throws<ConditionSyntaxException>(() => ConditionParser.Parse(text)).Message;
}
