using Mds.Portal.Components.Pages.Upload;

namespace Mds.UnitTests.Portal;

public class UploadRulesTests
{
    [Theory]
    [InlineData("iris", true)]
    [InlineData("Iris-2.v_1", true)]
    [InlineData("9lives", true)]
    [InlineData("", false)]
    [InlineData("-iris", false)]
    [InlineData(".iris", false)]
    [InlineData("iris model", false)]
    [InlineData("iris/1", false)]
    [InlineData("irís", false)]
    public void Names_follow_the_backends_pattern(string name, bool valid)
        => Assert.Equal(valid, UploadRules.NameError(name) is null);

    [Fact]
    public void A_name_of_128_characters_is_fine_and_129_is_not()
    {
        Assert.Null(UploadRules.NameError(new string('a', 128)));
        Assert.NotNull(UploadRules.NameError(new string('a', 129)));
    }

    [Theory]
    [InlineData("model.onnx", 1024, true)]
    [InlineData("MODEL.ONNX", 1024, true)]
    [InlineData("model.pt", 1024, false)]
    [InlineData("model-with-weights.zip", 1024, true)]
    [InlineData("MODEL.ZIP", 1024, true)]
    [InlineData("weights.bin", 1024, false)]
    [InlineData("model.onnx", 0, false)]
    [InlineData("model.onnx", 512L * 1024 * 1024, true)]
    [InlineData("model.onnx", 512L * 1024 * 1024 + 1, false)]
    public void The_file_must_be_onnx_or_a_zip_and_within_512_MiB(string fileName, long size, bool valid)
        => Assert.Equal(valid, UploadRules.FileError(fileName, size, 512L * 1024 * 1024) is null);

    [Fact]
    public void Without_the_backends_limit_the_size_is_left_to_the_backend()
        => Assert.Null(UploadRules.FileError("big.onnx", 64L * 1024 * 1024 * 1024));

    [Fact]
    public void A_raised_upload_limit_lets_a_model_over_2_GB_through_and_names_the_limit_when_exceeded()
    {
        const long limit = 4L * 1024 * 1024 * 1024;
        Assert.Null(UploadRules.FileError("llm.zip", 3L * 1024 * 1024 * 1024, limit));
        Assert.Contains("4 GB", UploadRules.FileError("llm.zip", limit + 1, limit), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(64, true)]
    [InlineData(0, false)]
    [InlineData(65, false)]
    [InlineData(null, false)]
    public void Replicas_are_1_to_the_backends_maximum(int? replicas, bool valid)
        => Assert.Equal(valid, UploadRules.ReplicasError(replicas, 64) is null);

    [Theory]
    [InlineData("onnx", true)]
    [InlineData("GPU", true)]
    [InlineData("gpu.a100", false)] // the backend refuses '.', so the form does too
    [InlineData("-gpu", false)]
    [InlineData("", false)]
    public void Requirements_follow_the_backends_capability_rule(string requirement, bool valid)
        => Assert.Equal(valid, UploadRules.RequirementError(requirement) is null);

    [Theory]
    [InlineData(null, true)]
    [InlineData(1, true)]
    [InlineData(0, false)]
    [InlineData(-5, false)]
    public void Memory_is_positive_or_left_empty(int? memoryMb, bool valid)
        => Assert.Equal(valid, UploadRules.MemoryError(memoryMb) is null);

    [Fact]
    public void Validate_lists_every_problem()
    {
        var input = new UploadInput { Name = "bad name", Replicas = 0, MemoryMb = -1, FileName = "x.txt", FileSizeBytes = 10, MaxReplicas = 64 };

        Assert.Equal(4, UploadRules.Validate(input).Count);
    }

    [Fact]
    public void Validate_passes_a_good_upload()
    {
        var input = new UploadInput { Name = "iris", Replicas = 2, MemoryMb = 128, FileName = "iris.onnx", FileSizeBytes = 1300 };

        Assert.Empty(UploadRules.Validate(input));
    }
}
