using System.Diagnostics;
using System.Globalization;
using Mds.Backend.Data;
using Mds.Backend.Datasets;
using Mds.Backend.Gateway;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Batches;

/// <summary>
/// Scores a batch: reads its CSV in chunks of <see cref="BatchOptions.RowsPerRequest"/> rows, sends each chunk to a
/// Ready replica as one V2 request, and writes the file's rows with the predictions appended to the result CSV.
/// Progress goes to the database as it goes (at most twice a second); the batch ends Succeeded or Failed with the
/// reason in words. Used inline for small files and by <see cref="BatchJob"/> for large ones.
/// </summary>
public sealed partial class BatchScorer(
    MdsDbContext db, ReplicaCaller replicas, BatchFiles files, IOptions<BatchOptions> options, TimeProvider clock, ILogger<BatchScorer> log)
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>Scores batch <paramref name="batchId"/>; false when it failed (the reason is stored) or was deleted meanwhile.</summary>
    /// <param name="batchId">The batch.</param>
    /// <param name="waitForReplicas">Whether to wait (up to <see cref="BatchOptions.ReplicaWait"/>) when no replica can answer.</param>
    /// <param name="ct">Cancels the scoring; the batch is then marked Failed unless the process is stopping.</param>
    public async Task<bool> ScoreAsync(long batchId, bool waitForReplicas, CancellationToken ct)
    {
        var batch = await db.Set<Batch>().AsNoTracking().Include(b => b.ModelVersion).SingleOrDefaultAsync(b => b.Id == batchId, ct);
        if (batch is null)
        {
            return false; // deleted before it started
        }

        var started = clock.GetUtcNow();
        await UpdateAsync(batchId, s => s.SetProperty(b => b.State, BatchStates.Running).SetProperty(b => b.StartedAt, started)
            .SetProperty(b => b.DoneRows, 0).SetProperty(b => b.Error, (string?)null), ct);
        LogStarted(batchId, batch.ModelName, batch.Version, batch.TotalRows);

        string partial = files.ResultOf(batchId) + ".partial";
        try
        {
            var (columns, summary) = await ScoreFileAsync(batch, partial, waitForReplicas, ct);
            File.Move(partial, files.ResultOf(batchId), overwrite: true);
            var finished = clock.GetUtcNow();
            int updated = await UpdateAsync(batchId, s => s.SetProperty(b => b.State, BatchStates.Succeeded).SetProperty(b => b.DoneRows, batch.TotalRows)
                .SetProperty(b => b.Columns, columns).SetProperty(b => b.Summary, summary).SetProperty(b => b.FinishedAt, finished), CancellationToken.None);
            if (updated == 0)
            {
                files.Delete(batchId);
                return false;
            }

            LogSucceeded(batchId, batch.TotalRows, (finished - started).TotalSeconds);
            return true;
        }
        catch (BatchDeletedException)
        {
            files.Delete(batchId);
            return false;
        }
        catch (Exception e) when (FailureReason(e, ct) is { } reason)
        {
            DeleteQuietly(partial);
            await UpdateAsync(batchId, s => s.SetProperty(b => b.State, BatchStates.Failed).SetProperty(b => b.Error, reason)
                .SetProperty(b => b.FinishedAt, clock.GetUtcNow()), CancellationToken.None);
            LogFailed(batchId, reason);
            return false;
        }
    }

    private async Task<(List<string> Columns, string? Summary)> ScoreFileAsync(Batch batch, string resultPath, bool waitForReplicas, CancellationToken ct)
    {
        var version = batch.ModelVersion;
        var input = TabularCsv.InputOf(version) ?? throw new BatchFailedException("the model is not tabular: one numeric input of shape [rows, features]");
        var datatype = TensorDatatypes.Parse(input.Datatype);
        int rowsPerRequest = options.Value.RowsPerRequest;

        using var reader = new StreamReader(files.InputOf(batch.Id));
        await using var writer = new StreamWriter(resultPath, append: false, new System.Text.UTF8Encoding(false));
        using var records = Csv.Read(reader).GetEnumerator();
        if (!records.MoveNext())
        {
            throw new BatchFailedException("the file has no header row");
        }

        var header = records.Current;
        int featureCount = TabularCsv.FeatureCount(version, input);
        var (layout, error) = DatasetValidator.Layout(header, featureCount > 0 ? featureCount : header.Count - (batch.LabelColumn is null ? 0 : 1), version.FeatureNames, batch.LabelColumn);
        if (layout is null)
        {
            throw new BatchFailedException("the file does not fit the model: " + error);
        }

        var comparison = layout.LabelColumn is int labelIndex ? new LabelComparison(header[labelIndex]) : null;
        List<string>? columns = null;
        IReadOnlyList<OutputColumns>? outputColumns = null;
        var chunk = new List<List<string>>(rowsPerRequest);
        int done = 0;
        long lastProgress = Stopwatch.GetTimestamp();
        bool more = true;
        while (more)
        {
            chunk.Clear();
            while (chunk.Count < rowsPerRequest && (more = records.MoveNext()))
            {
                chunk.Add(records.Current);
            }

            if (chunk.Count == 0)
            {
                break;
            }

            var values = new double[chunk.Count * layout.FeatureColumns.Count];
            for (int r = 0; r < chunk.Count; r++)
            {
                if (DatasetValidator.FirstBadCell(header, chunk[r], done + r + 1, layout) is { } bad)
                {
                    throw new BatchFailedException(bad);
                }

                for (int f = 0; f < layout.FeatureColumns.Count; f++)
                {
                    values[(r * layout.FeatureColumns.Count) + f] = double.Parse(chunk[r][layout.FeatureColumns[f]], NumberStyles.Float, CultureInfo.InvariantCulture);
                }
            }

            var request = new InferenceRequest
            {
                Id = string.Create(CultureInfo.InvariantCulture, $"batch-{batch.Id}-{done}"),
                Inputs = [TabularTensor.Create(input.Name, datatype, values, chunk.Count)],
            };
            var response = await InferAsync(batch, request, waitForReplicas, ct);

            if (outputColumns is null)
            {
                outputColumns = ResultTable.ColumnsOf(response, chunk.Count, version.Classes, header);
                columns = [.. header, .. outputColumns.SelectMany(c => c.Names)];
                Csv.Write(writer, columns);
            }

            for (int r = 0; r < chunk.Count; r++)
            {
                Csv.Write(writer, chunk[r].Concat(ResultTable.CellsOf(response, outputColumns, r)));
                if (comparison is not null)
                {
                    comparison.Add(chunk[r][layout.LabelColumn!.Value], response, outputColumns, r);
                }
            }

            done += chunk.Count;
            if (Stopwatch.GetElapsedTime(lastProgress) >= ProgressInterval)
            {
                lastProgress = Stopwatch.GetTimestamp();
                await writer.FlushAsync(ct);
                int reported = done;
                if (await UpdateAsync(batch.Id, s => s.SetProperty(b => b.DoneRows, reported), ct) == 0)
                {
                    throw new BatchDeletedException();
                }
            }
        }

        if (columns is null)
        {
            throw new BatchFailedException("the file has no data rows");
        }

        return (columns, comparison?.Summary());
    }

    private async Task<InferenceResponse> InferAsync(Batch batch, InferenceRequest request, bool waitForReplicas, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(options.Value.ReplicaWait.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            try
            {
                var options = new ReplicaCallOptions(
                    "batch " + batch.Id.ToString(CultureInfo.InvariantCulture) + " by " + batch.CreatedBy, request.Id ?? Guid.CreateVersion7().ToString("N"));
                return (await replicas.InferAsync(batch.ModelName, batch.Version, request, options, ct)).Response;
            }
            catch (ReplicaUnavailableException) when (waitForReplicas && Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), clock, ct); // a replica may be on its way (failover, scaling)
            }
        }
    }

    private Task<int> UpdateAsync(long batchId, Action<Microsoft.EntityFrameworkCore.Query.UpdateSettersBuilder<Batch>> set, CancellationToken ct) =>
        db.Set<Batch>().Where(b => b.Id == batchId).ExecuteUpdateAsync(set, ct);

    /// <summary>What to tell the user when scoring stopped with <paramref name="e"/>; null for a stop that is not a failure.</summary>
    private static string? FailureReason(Exception e, CancellationToken ct) => e switch
    {
        OperationCanceledException when ct.IsCancellationRequested => "scoring was cancelled (the request was aborted or the backend stopped)",
        BatchFailedException or ReplicaUnavailableException or ModelNotFoundException => e.Message,
        InferenceRejectedException => "the model refused the rows: " + e.Message,
        InferenceProtocolException => "the model's answer cannot be written as rows: " + e.Message,
        IOException => "the batch's files could not be read or written: " + e.Message,
        FormatException => "the file could not be read as CSV: " + e.Message,
        HttpRequestException or TaskCanceledException => "a replica did not answer in time: " + e.Message,
        _ => null,
    };

    private static void DeleteQuietly(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // left for the cleanup job
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch {BatchId}: scoring {Rows} rows with {Model} version {Version}")]
    private partial void LogStarted(long batchId, string model, int version, int rows);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch {BatchId}: {Rows} rows scored in {Seconds:0.0} s")]
    private partial void LogSucceeded(long batchId, int rows, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch {BatchId} failed: {Reason}")]
    private partial void LogFailed(long batchId, string reason);

    private sealed class BatchDeletedException : Exception;
}

/// <summary>A batch cannot be scored; the message says why, in words.</summary>
public sealed class BatchFailedException(string message) : Exception(message);
