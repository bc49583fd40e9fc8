using System.Text.Json;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;

namespace Mds.Backend.Registry;

/// <summary>Entities → API DTOs, and the version state derived from its replicas.</summary>
internal static class RegistryMapping
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static ModelDto ToDto(Model m) => ToDto(m, null);

    /// <summary>The model with its versions, each labelling its features from its reference dataset when the model does not name them.</summary>
    public static ModelDto ToDto(Model m, IReadOnlyDictionary<long, Datasets.ReferenceDataset>? datasets)
    {
        var ready = m.Versions.Where(v => v.ReplicaList.Any(r => r.State == ReplicaStates.Ready)).Select(v => v.Version).DefaultIfEmpty().Max();
        int? live = m.LiveVersionId is long id ? m.Versions.FirstOrDefault(v => v.Id == id)?.Version : (ready == 0 ? null : ready);
        return new ModelDto(m.Id, m.Name, m.Description, live, m.CreatedAt,
            [.. m.Versions.OrderByDescending(v => v.Version).Select(v => ToDto(v, m, live, datasets?.GetValueOrDefault(v.Id)))], m.Tags);
    }

    public static ModelVersionDto ToDto(ModelVersion v, Model m, int? liveVersion, Datasets.ReferenceDataset? dataset = null)
    {
        var (state, reason) = StateOf(v);
        var (labels, labelsFrom) = Datasets.TabularCsv.FeatureLabels(v, dataset);
        return new ModelVersionDto(
            v.Id, m.Name, v.Version, v.ArtifactSha256, v.Artifact?.SizeBytes ?? 0, v.Description, v.Requirements,
            v.MemoryMb ?? v.MeasuredMemoryMb, v.Replicas, state, reason, liveVersion == v.Version, v.CreatedAt, v.CreatedBy,
            Schema(v.InputsJson), Schema(v.OutputsJson),
            [.. v.ReplicaList.OrderBy(r => r.Id).Select(r => new ReplicaDto(r.Id, r.WorkerId, r.Worker?.Name ?? "", r.State, r.Error, r.UpdatedAt))],
            v.MinReplicas, v.MaxReplicas, v.FeatureNames, v.Classes,
            v.MaxBatchSize is int size ? new BatchingDto(true, size, v.MaxBatchLatencyMicroseconds ?? 0) : null,
            FileInfo(v.FileInfoJson),
            ImagePreprocessingOf(v),
            v.TargetLatencyMs,
            labels,
            labelsFrom);
    }

    /// <summary>Ready if any replica is; Loading while any is on its way; Failed if all failed; else Pending.</summary>
    public static (string State, string? Reason) StateOf(ModelVersion v)
    {
        var replicas = v.ReplicaList;
        if (replicas.Any(r => r.State == ReplicaStates.Ready))
        {
            return (VersionStates.Ready, v.PendingReason);
        }

        if (replicas.Any(r => r.State is ReplicaStates.Scheduled or ReplicaStates.Loading))
        {
            return (VersionStates.Loading, v.PendingReason);
        }

        var failed = replicas.FirstOrDefault(r => r.State == ReplicaStates.Failed);
        if (failed is not null && Scheduling.LoadFailure.Is(v.PendingReason))
        {
            return (VersionStates.Failed, v.PendingReason); // failed on every eligible worker: their errors, not a placement message
        }

        if (failed is not null && v.PendingReason is null)
        {
            return (VersionStates.Failed, failed.Error);
        }

        return (VersionStates.Pending, v.PendingReason ?? failed?.Error ?? (v.Replicas == 0 ? "scaled to zero replicas" : "waiting for the scheduler"));
    }

    /// <summary>The version's stored image preprocessing, or null for a model that is not an image model.</summary>
    public static ImagePreprocessingDto? ImagePreprocessingOf(ModelVersion v) =>
        v.ImagePreprocessingJson is { } json ? JsonSerializer.Deserialize<ImagePreprocessingDto>(json, Json) : null;

    public static string ToJson(ImagePreprocessingDto settings) => JsonSerializer.Serialize(settings, Json);

    public static string ToJson(IReadOnlyList<TensorMetadata> tensors) => JsonSerializer.Serialize(tensors, Json);

    public static string? ToJson(ModelFileInfo? info) => info is null ? null : JsonSerializer.Serialize(info, Json);

    public static ModelFileInfo? FileInfo(string? json) => json is null ? null : JsonSerializer.Deserialize<ModelFileInfo>(json, Json);

    public static IReadOnlyList<TensorMetadata> Schema(string json) => JsonSerializer.Deserialize<List<TensorMetadata>>(json, Json) ?? [];
}
