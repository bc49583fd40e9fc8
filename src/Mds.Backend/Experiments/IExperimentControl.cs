namespace Mds.Backend.Experiments;

/// <summary>Changes an experiment on behalf of the rollout job (core implements; every change goes into the history).</summary>
public interface IExperimentControl
{
    Task<IReadOnlyList<RolloutTarget>> ActiveRolloutsAsync(CancellationToken ct);
    Task SetWeightsAsync(string experiment, IReadOnlyDictionary<string, double> weights, int step, string reason, CancellationToken ct);
    Task PromoteAsync(string experiment, string candidate, string reason, CancellationToken ct);
    Task RollBackAsync(string experiment, string reason, CancellationToken ct);
}

/// <summary>One running rollout: its experiment, spec, current step index (−1 before the first) and when the step began.</summary>
public sealed record RolloutTarget(string Experiment, Mds.Contracts.Api.ExperimentRolloutSpec Spec, int Step, DateTimeOffset StepStartedAt, IReadOnlyList<string> Candidates);
