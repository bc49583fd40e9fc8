using Hangfire;
using Mds.Backend.Scheduling;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Experiments;

/// <summary>
/// The progressive rollouts' recurring Hangfire job (<c>mds-experiment-rollouts</c>, on the backend's queue every
/// <see cref="ExperimentResultsOptions.RolloutCheckInterval"/>): for each running rollout it reads the candidate's
/// figures since its step began, asks <see cref="RolloutStateMachine"/> what to do and does it through
/// <see cref="IExperimentControl"/> (which records every change in the experiment's history). Idempotent: a second run
/// right after an advance finds a step that has only just begun and holds. One rollout's failure does not stop the others.
/// </summary>
public sealed partial class RolloutJob(IExperimentControl control, ExperimentResults results, TimeProvider clock, ILogger<RolloutJob> log)
{
    /// <summary>The recurring job's id.</summary>
    public const string JobId = "mds-experiment-rollouts";

    /// <summary>Checks every running rollout once.</summary>
    [AutomaticRetry(Attempts = 0)]
    [DisableConcurrentExecution(60)]
    public async Task RunScheduledAsync(CancellationToken ct)
    {
        foreach (var target in await control.ActiveRolloutsAsync(ct))
        {
            try
            {
                await StepAsync(target, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(e, target.Experiment);
            }
        }
    }

    private async Task StepAsync(RolloutTarget target, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var figures = target.Step < 0
            ? new RolloutFigures(0, 0, null)
            : await results.StepFiguresAsync(target.Experiment, target.Spec.Candidate, target.StepStartedAt, ct);
        // The target names the candidates but not their spec weights: the others share the rest equally.
        var weights = target.Candidates.Distinct(StringComparer.Ordinal).ToDictionary(c => c, _ => 1.0, StringComparer.Ordinal);
        weights.TryAdd(target.Spec.Candidate, 1.0);
        var decision = RolloutStateMachine.Decide(target.Spec, target.Step, target.StepStartedAt, now, figures, weights);
        switch (decision.Action)
        {
            case RolloutAction.Advance:
                await control.SetWeightsAsync(target.Experiment, decision.Weights!, decision.Step, decision.Reason, ct);
                break;
            case RolloutAction.Promote:
                await control.PromoteAsync(target.Experiment, target.Spec.Candidate, decision.Reason, ct);
                break;
            case RolloutAction.RollBack:
                await control.RollBackAsync(target.Experiment, decision.Reason, ct);
                break;
            default:
                LogHold(target.Experiment, decision.Reason);
                return;
        }

        LogDecision(target.Experiment, decision.Action, decision.Reason);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rollout of experiment {Experiment}: {Action} — {Reason}")]
    private partial void LogDecision(string experiment, RolloutAction action, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Rollout of experiment {Experiment} holds: {Reason}")]
    private partial void LogHold(string experiment, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Rollout check of experiment {Experiment} failed; next check retries")]
    private partial void LogFailed(Exception e, string experiment);
}

/// <summary>Registers the results service and, once an <see cref="IExperimentControl"/> is registered, the rollout job.</summary>
public static class ExperimentStatisticsSetup
{
    public static IHostApplicationBuilder AddExperimentStatistics(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<ExperimentResultsOptions>().BindConfiguration(ExperimentResultsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddScoped<ExperimentResults>();
        builder.Services.AddScoped<RolloutJob>();
        builder.Services.AddHostedService<Registration>();
        return builder;
    }

    /// <summary>
    /// Schedules the rollout job when something implements <see cref="IExperimentControl"/>, and removes it otherwise
    /// (so a backend without the experiments' control does not fail a job every few seconds).
    /// </summary>
    private sealed class Registration(IServiceProviderIsService services, IRecurringJobManager jobs, IOptions<ExperimentResultsOptions> options, ILogger<Registration> log) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => RecurringJobRegistration.StartAsync(RolloutJob.JobId, () =>
        {
            if (services.IsService(typeof(IExperimentControl)))
            {
                jobs.AddOrUpdate<RolloutJob>(RolloutJob.JobId, ReconcileSchedule.Queue, j => j.RunScheduledAsync(CancellationToken.None), ReconcileSchedule.CronFor(options.Value.RolloutCheckInterval));
            }
            else
            {
                jobs.RemoveIfExists(RolloutJob.JobId);
            }
        }, log);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
