namespace Mds.Backend.Experiments;

/// <summary>Changes an experiment on behalf of the rollout job (core implements; every change goes into the history).</summary>
public interface IExperimentControl
{
    /// <summary>The experiments with a rollout still running.</summary>
    Task<IReadOnlyList<RolloutTarget>> ActiveRolloutsAsync(CancellationToken ct);

    /// <summary>Sets every candidate's weight at once and records the rollout's new step (its start is now).</summary>
    Task SetWeightsAsync(string experiment, IReadOnlyDictionary<string, double> weights, int step, string reason, CancellationToken ct);

    /// <summary>Promotes <paramref name="candidate"/> and ends the experiment.</summary>
    Task PromoteAsync(string experiment, string candidate, string reason, CancellationToken ct);

    /// <summary>Sends the rolled-out candidate back to 0 % and ends the experiment, recording why.</summary>
    Task RollBackAsync(string experiment, string reason, CancellationToken ct);
}

/// <summary>One running rollout: its experiment, spec, current step index (−1 before the first) and when the step began.</summary>
public sealed record RolloutTarget(string Experiment, Mds.Contracts.Api.ExperimentRolloutSpec Spec, int Step, DateTimeOffset StepStartedAt, IReadOnlyList<string> Candidates);
