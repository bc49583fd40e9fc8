using Mds.Backend.Data;
using Microsoft.EntityFrameworkCore;

namespace Mds.Backend.Streams;

/// <summary>A resource's stream switch (the <c>stream_settings</c> row), as the streams endpoints and a pipeline spec's <c>streaming: true</c> set it.</summary>
public static class StreamSettings
{
    /// <summary>How long a request waits on the streaming engine before it answers with the state as it is.</summary>
    internal static readonly TimeSpan EngineTimeout = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Enables the pipeline's stream from a spec's <c>streaming: true</c> (after the spec was saved). A spec without it
    /// leaves the setting as it is (<c>PUT …/streaming</c> disables).
    /// </summary>
    internal static async Task EnableFromSpecAsync(MdsDbContext db, string pipeline, string? who, IServiceProvider services, CancellationToken ct)
    {
        await UpsertAsync(db, StreamResource.Pipelines, pipeline, enabled: true, who, services.GetRequiredService<TimeProvider>().GetUtcNow(), ct);
        var processor = services.GetRequiredService<StreamProcessor>();
        processor.Changed();
        if (processor.Transport is not { } transport)
        {
            return;
        }

        // As PUT …/streaming does: the input stream exists when the apply answers, so a publisher that starts right
        // after it is not refused ("no responders"). The spec is saved already: an unreachable engine does not undo
        // it; the processor keeps trying and the state says why it waits.
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(EngineTimeout);
            await transport.EnsureAsync(new StreamResource(StreamResource.Pipelines, pipeline), timeout.Token);
            await processor.SyncNowAsync(timeout.Token);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // the stream's state reports the engine problem
        }
    }

    /// <summary>The refusal to enable a stream when the deployment has no engine; null when it has one.</summary>
    internal static string? SwitchedOff(StreamingOptions options) => options.Engine == StreamEngines.None
        ? "streaming is switched off in this deployment (Mds:Streaming:Engine is 'none'); set it to 'nats' or 'kafka' to enable streams"
        : null;

    internal static async Task UpsertAsync(MdsDbContext db, string kind, string name, bool enabled, string? who, DateTimeOffset now, CancellationToken ct)
    {
        var setting = await db.Set<StreamSetting>().SingleOrDefaultAsync(s => s.Kind == kind && s.Name == name, ct);
        if (setting is null)
        {
            setting = new StreamSetting { Kind = kind, Name = name };
            db.Add(setting);
        }

        setting.Enabled = enabled;
        setting.ChangedAt = now;
        setting.ChangedBy = who;
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Set at the same moment elsewhere (the unique index): write over it.
            db.ChangeTracker.Clear();
            await db.Set<StreamSetting>().Where(s => s.Kind == kind && s.Name == name)
                .ExecuteUpdateAsync(u => u.SetProperty(s => s.Enabled, enabled).SetProperty(s => s.ChangedAt, now).SetProperty(s => s.ChangedBy, who), ct);
        }
    }
}
