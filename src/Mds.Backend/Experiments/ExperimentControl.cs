using System.Text.Json;
using Mds.Backend.Data;
using Mds.Backend.Gateway;
using Mds.Contracts.Api;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Experiments;

/// <summary>Why a change to an experiment was refused: 400 (bad input), 404 or 409 (not running).</summary>
public sealed class ExperimentChangeException(int status, string message) : Exception(message)
{
    /// <summary>The HTTP status to answer.</summary>
    public int Status { get; } = status;
}

/// <summary>
/// Every change to a running experiment, for the API and the rollout job alike: weights (swapped into the table at once),
/// promote, stop, roll back. Each one is an <see cref="ExperimentEvent"/>.
/// </summary>
public sealed class ExperimentControl(IServiceScopeFactory scopes, ExperimentTable table, RoutingTable routing, TimeProvider clock, ILogger<ExperimentControl> log) : IExperimentControl
{
    /// <summary>Rollout states.</summary>
    public const string RolloutRunning = "Running";

    public async Task<IReadOnlyList<RolloutTarget>> ActiveRolloutsAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
        var rows = await db.Set<Experiment>().AsNoTracking().Where(e => e.State == ExperimentTable.Running && e.RolloutState == RolloutRunning).ToListAsync(ct);
        var targets = new List<RolloutTarget>(rows.Count);
        foreach (var row in rows)
        {
            var spec = ExperimentSpecParser.FromStored(row.SpecJson);
            targets.Add(new RolloutTarget(row.Name, spec.Rollout!, row.RolloutStep, row.RolloutStepStartedAt ?? row.CreatedAt,
                [.. spec.Candidates.Select(c => ExperimentValidator.KeyOf(c.Name, c.Version))]));
        }

        return targets;
    }

    public Task SetWeightsAsync(string experiment, IReadOnlyDictionary<string, double> weights, int step, string reason, CancellationToken ct) =>
        ChangeWeightsAsync(experiment, weights, step, reason, null, ct);

    public Task PromoteAsync(string experiment, string candidate, string reason, CancellationToken ct) =>
        PromoteAsync(experiment, candidate, reason, null, ct);

    public async Task RollBackAsync(string experiment, string reason, CancellationToken ct)
    {
        await ChangeAsync(experiment, (row, spec, _) =>
        {
            var weights = Weights(row);
            if (spec.Rollout is { } r)
            {
                weights[r.Candidate] = 0;
                if (weights.Values.All(w => w <= 0))
                {
                    weights = RolloutBase(spec, r.Candidate);
                }
            }

            row.WeightsJson = JsonSerializer.Serialize(weights, ExperimentJson.Options);
            End(row, ExperimentStates.RolledBack, reason);
            row.RolloutState = ExperimentStates.RolledBack;
            return Task.FromResult(new ExperimentEvent { Kind = "rolled-back", Message = $"rolled back: {reason}", By = null });
        }, ct);
    }

    /// <summary>New weights by candidate key (missing keys keep theirs); one swap of the table's route, so no request sees half of them.</summary>
    public async Task ChangeWeightsAsync(string experiment, IReadOnlyDictionary<string, double> weights, int? step, string reason, string? by, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(weights);
        await ChangeAsync(experiment, (row, spec, _) =>
        {
            var current = Weights(row);
            var unknown = weights.Keys.Where(k => !current.ContainsKey(k)).ToList();
            if (unknown.Count > 0)
            {
                throw new ExperimentChangeException(400, $"unknown candidate {string.Join(", ", unknown.Select(k => $"'{k}'"))}; the candidates are {string.Join(", ", current.Keys)}");
            }

            var bad = weights.Where(w => !(w.Value >= 0) || double.IsInfinity(w.Value)).Select(w => $"'{w.Key}': {w.Value}").ToList();
            if (bad.Count > 0)
            {
                throw new ExperimentChangeException(400, $"weights must be numbers ≥ 0 ({string.Join(", ", bad)})");
            }

            foreach (var (key, value) in weights)
            {
                current[key] = value;
            }

            if (current.Values.All(w => w <= 0))
            {
                throw new ExperimentChangeException(400, "at least one candidate needs a positive weight");
            }

            row.WeightsJson = JsonSerializer.Serialize(current, ExperimentJson.Options);
            string text = string.Join(", ", current.Select(w => $"{w.Key} {w.Value:0.###}"));
            if (step is int s)
            {
                row.RolloutStep = s;
                row.RolloutStepStartedAt = clock.GetUtcNow();
                return Task.FromResult(new ExperimentEvent { Kind = "rollout-step", Message = $"step {s + 1} of {spec.Rollout?.Steps.Count}: {text} ({reason})", By = by });
            }

            return Task.FromResult(new ExperimentEvent { Kind = "weights", Message = $"weights set to {text}" + (reason.Length > 0 ? $" ({reason})" : ""), By = by });
        }, ct);
    }

    /// <summary>
    /// Ends the experiment with <paramref name="candidate"/> as the winner: a model version becomes its model's live version;
    /// when the winner is another model or pipeline than the default, the default's endpoint keeps routing to it.
    /// </summary>
    public async Task PromoteAsync(string experiment, string candidate, string reason, string? by, CancellationToken ct)
    {
        bool liveChanged = false;
        await ChangeAsync(experiment, async (row, spec, db) =>
        {
            var c = spec.Candidates.FirstOrDefault(x => ExperimentValidator.KeyOf(x.Name, x.Version) == candidate)
                ?? throw new ExperimentChangeException(400, $"'{candidate}' is not a candidate of experiment '{experiment}'");
            string message = $"promoted '{candidate}'";
            if (spec.ResourceType == ExperimentValidator.Model && c.Version is int v)
            {
                var model = await db.Models.Include(m => m.Versions).SingleOrDefaultAsync(m => m.Name == c.Name, ct)
                    ?? throw new ExperimentChangeException(409, $"model '{c.Name}' no longer exists");
                var version = model.Versions.FirstOrDefault(x => x.Version == v) ?? throw new ExperimentChangeException(409, $"model '{c.Name}' no longer has version {v}");
                model.LiveVersionId = version.Id;
                liveChanged = true;
                message += $": version {v} is now the live version of model '{c.Name}'";
            }

            string? redirect = row.TakesOver is { } over && over != c.Name ? over : null;
            if (redirect is not null)
            {
                message += spec.ResourceType == ExperimentValidator.Pipeline
                    ? $"; calls to pipeline '{redirect}' now run pipeline '{c.Name}'"
                    : $"; calls to model '{redirect}' now run '{candidate}'";
            }

            End(row, ExperimentStates.Promoted, reason.Length > 0 ? reason : message);
            row.PromotedTo = candidate;
            row.TakesOver = redirect;
            if (row.RolloutState is not null)
            {
                row.RolloutState = ExperimentStates.Promoted;
            }

            return new ExperimentEvent { Kind = "promoted", Message = message + (reason.Length > 0 ? $" ({reason})" : ""), By = by };
        }, ct);

        if (liveChanged)
        {
            await routing.RefreshAsync(ct);
        }
    }

    /// <summary>Stops the experiment: it routes no traffic; its default's endpoint answers as before.</summary>
    public Task StopAsync(string experiment, string? by, CancellationToken ct) =>
        ChangeAsync(experiment, (row, _, _) =>
        {
            End(row, ExperimentStates.Stopped, by is null ? "stopped" : $"stopped by {by}");
            return Task.FromResult(new ExperimentEvent { Kind = "stopped", Message = "stopped; it routes no traffic", By = by });
        }, ct);

    private void End(Experiment row, string state, string reason)
    {
        row.State = state;
        row.Reason = reason.Length > 4000 ? reason[..3999] + "…" : reason;
        row.EndedAt = clock.GetUtcNow();
        row.TakesOver = null;
    }

    private async Task ChangeAsync(string experiment, Func<Experiment, ExperimentSpec, MdsDbContext, Task<ExperimentEvent>> change, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<MdsDbContext>();
        await using var tx = await db.Database.BeginTransactionAsync(System.Data.IsolationLevel.Serializable, ct);
        var row = await db.Set<Experiment>().SingleOrDefaultAsync(e => e.Name == experiment, ct)
            ?? throw new ExperimentChangeException(404, $"experiment '{experiment}' not found");
        if (row.State != ExperimentTable.Running)
        {
            throw new ExperimentChangeException(409, $"experiment '{experiment}' has ended ({row.State})");
        }

        var spec = ExperimentSpecParser.FromStored(row.SpecJson);
        var e = await change(row, spec, db);
        e.At = clock.GetUtcNow();
        e.Message = e.Message.Length > 4000 ? e.Message[..3999] + "…" : e.Message;
        row.Events.Add(e);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        log.LogInformation("Experiment {Experiment}: {Kind}: {Message}", experiment, e.Kind, e.Message);

        // This backend's table now: a weight change is one swap of an immutable route (readiness as last seen);
        // ends and promotions rebuild it. Other backends catch up on their next refresh.
        var current = table.Routes.FirstOrDefault(r => r.Name == experiment);
        if (row.State == ExperimentTable.Running && current is not null)
        {
            var weights = Weights(row);
            table.Swap(current.WithWeights([.. current.Candidates.Select(c => weights.GetValueOrDefault(c.Key))]));
        }
        else
        {
            await table.RefreshAsync(ct);
        }
    }

    internal static Dictionary<string, double> Weights(Experiment row) =>
        JsonSerializer.Deserialize<Dictionary<string, double>>(row.WeightsJson, ExperimentJson.Options) ?? new Dictionary<string, double>(StringComparer.Ordinal);

    /// <summary>The weights before a rollout's first step: its candidate at 0, the others by their spec weights.</summary>
    internal static Dictionary<string, double> RolloutBase(ExperimentSpec spec, string candidate) => ExperimentRouter.RolloutWeights(spec, candidate, 0);
}
