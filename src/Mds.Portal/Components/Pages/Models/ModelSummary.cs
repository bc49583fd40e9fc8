using Mds.Contracts.Api;

namespace Mds.Portal.Components.Pages.Models;

/// <summary>What the model pages show about a model at a glance: the version that matters and its replicas.</summary>
public static class ModelSummary
{
    /// <summary>The live version, or the newest when none is live; null for a model without versions.</summary>
    public static ModelVersionDto? Headline(ModelDto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Versions.FirstOrDefault(v => v.IsLive) ?? model.Versions.MaxBy(v => v.Version);
    }

    /// <summary>How many of the version's replicas serve.</summary>
    public static int ReadyReplicas(ModelVersionDto version)
    {
        ArgumentNullException.ThrowIfNull(version);
        return version.ReplicaStates.Count(r => r.State == ReplicaStates.Ready);
    }

    /// <summary>The versions newest first.</summary>
    public static IEnumerable<ModelVersionDto> NewestFirst(ModelDto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Versions.OrderByDescending(v => v.Version);
    }

    /// <summary>The headline version's newest drift verdict, or null when it has no report.</summary>
    public static DriftStatusDto? Drift(ModelDto model, IReadOnlyList<DriftStatusDto> statuses)
    {
        ArgumentNullException.ThrowIfNull(statuses);
        return Headline(model) is { } headline ? Drift(model.Name, headline.Version, statuses) : null;
    }

    /// <summary>One version's newest drift verdict, or null when it has no report.</summary>
    public static DriftStatusDto? Drift(string model, int version, IReadOnlyList<DriftStatusDto> statuses)
    {
        ArgumentNullException.ThrowIfNull(statuses);
        return statuses.Where(s => s.Version == version && string.Equals(s.Model, model, StringComparison.Ordinal)).MaxBy(s => s.Time);
    }

    /// <summary>The page of a version's drift reports.</summary>
    public static string DriftHref(string model, int version)
        => $"models/{Uri.EscapeDataString(model)}/versions/{version.ToString(System.Globalization.CultureInfo.InvariantCulture)}/drift";
}
