using System.Diagnostics;
using System.Globalization;
using Mds.Backend.Data;
using Mds.Backend.Datasets;
using Mds.Backend.Gateway;
using Mds.Backend.Images;
using Mds.Backend.Pipelines;
using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Mds.Backend.Batches;

/// <summary>
/// Scores a batch: reads its CSV in chunks of <see cref="BatchOptions.RowsPerRequest"/> rows, sends each chunk to the
/// batch's <see cref="BatchTarget"/> (a model version's replicas, or a pipeline's runs) as one V2 request, and writes the
/// file's rows with the predictions appended to the result CSV.
/// Progress goes to the database as it goes (at most twice a second); the batch ends Succeeded or Failed with the
/// reason in words. Used inline for small files and by <see cref="BatchJob"/> for large ones.
/// </summary>
public sealed partial class BatchScorer(
    MdsDbContext db, ReplicaCaller replicas, PipelineRunner pipelines, BatchFiles files, IOptions<BatchOptions> options, IOptions<ImageOptions> imageOptions,
    TimeProvider clock, ILogger<BatchScorer> log)
{
    private const string RefusedRows = " refused the rows: ";
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
        catch (Exception e) when (FailureReason(e, batch, ct) is { } reason)
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
        var target = await BatchTarget.OfAsync(batch, replicas, pipelines, ct);
        if (target.Image is { } image)
        {
            return await ScoreImagesAsync(batch, target, image.Input, image.Settings, resultPath, waitForReplicas, ct);
        }

        int rowsPerRequest = options.Value.RowsPerRequest;

        using var reader = new StreamReader(files.InputOf(batch.Id));
        await using var writer = new StreamWriter(resultPath, append: false, new System.Text.UTF8Encoding(false));
        using var records = Csv.Read(reader).GetEnumerator();
        if (!records.MoveNext())
        {
            throw new BatchFailedException("the file has no header row");
        }

        var header = records.Current;
        // Per-column inputs take their columns by name (strings allowed); a matrix by feature name or position.
        var tabular = target.LayoutFor(header, batch.LabelColumn) ?? throw new BatchFailedException($"the {target.Kind} is not tabular: {TabularCsv.Rule}");
        var (layout, error) = TabularCsv.Columns(header, target.FeatureNames, tabular, batch.LabelColumn);
        bool[] text = [.. tabular.Columns.Select(c => c.IsText)];
        if (layout is null)
        {
            throw new BatchFailedException($"the file does not fit the {target.Kind}: " + error);
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

            var cells = new IReadOnlyList<string>[chunk.Count];
            for (int r = 0; r < chunk.Count; r++)
            {
                if (DatasetValidator.FirstBadCell(header, chunk[r], done + r + 1, layout, text) is { } bad)
                {
                    throw new BatchFailedException(bad);
                }

                var row = chunk[r];
                cells[r] = [.. layout.FeatureColumns.Select(c => row[c])];
            }

            IReadOnlyList<InferenceTensor> inputs;
            try
            {
                inputs = tabular.CreateInputs(cells);
            }
            catch (InferenceProtocolException e)
            {
                throw new BatchFailedException(e.Message);
            }

            var request = new InferenceRequest
            {
                Id = string.Create(CultureInfo.InvariantCulture, $"batch-{batch.Id}-{done}"),
                Inputs = inputs,
            };
            var response = await InferAsync(target, request, waitForReplicas, ct);

            if (outputColumns is null)
            {
                outputColumns = ResultTable.ColumnsOf(response, chunk.Count, target.Classes, header, target.Classifier);
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

    /// <summary>
    /// A zip of images, one row per image file named by its path in the zip: each image decoded (bounded), preprocessed
    /// as the version says, and sent in chunks; the row gets the predicted class, its probability, and the outputs.
    /// Only one decoded image is held at a time.
    /// </summary>
    private async Task<(List<string> Columns, string? Summary)> ScoreImagesAsync(
        Batch batch, BatchTarget target, ImageInput image, ImagePreprocessingDto settings, string resultPath, bool waitForReplicas, CancellationToken ct)
    {
        var bounds = imageOptions.Value;
        int perRequest = target.Inputs[0].Shape[0] < 0 ? Math.Clamp(options.Value.RowsPerRequest, 1, 16) : 1;
        int perImage = ImageTensor.ValuesPerImage(settings);
        string[] header = ["file", "predicted", "probability"];
        await using var writer = new StreamWriter(resultPath, append: false, new System.Text.UTF8Encoding(false));
        using var entries = ImageZip.Read(files.InputOf(batch.Id), bounds).GetEnumerator();
        List<string>? columns = null;
        IReadOnlyList<OutputColumns>? outputColumns = null;
        var names = new List<string>(perRequest);
        var values = new double[perRequest * perImage];
        int done = 0;
        long lastProgress = Stopwatch.GetTimestamp();
        while (true)
        {
            names.Clear();
            try
            {
                while (names.Count < perRequest && entries.MoveNext())
                {
                    var (name, bytes) = entries.Current;
                    using var bitmap = ImageDecoder.Decode(bytes, bounds.MaxPixels);
                    ImageTensor.Fill(bitmap, settings, values.AsSpan(names.Count * perImage, perImage));
                    names.Add(name);
                }
            }
            catch (ImageRejectedException e)
            {
                throw new InferenceRejectedException(StatusCodes.Status400BadRequest, $"image {done + names.Count + 1} of the zip cannot be used: {e.Message}");
            }

            if (names.Count == 0)
            {
                break;
            }

            var request = new InferenceRequest
            {
                Id = string.Create(CultureInfo.InvariantCulture, $"batch-{batch.Id}-{done}"),
                Inputs = [ImageTensor.FromValues(image, settings, names.Count == perRequest ? values : values[..(names.Count * perImage)], names.Count)],
            };
            var response = await InferAsync(target, request, waitForReplicas, ct);
            if (outputColumns is null)
            {
                outputColumns = ResultTable.ColumnsOf(response, names.Count, target.Classes, header);
                columns = [.. header, .. outputColumns.SelectMany(c => c.Names)];
                Csv.Write(writer, columns);
            }

            for (int r = 0; r < names.Count; r++)
            {
                var reading = ImageClasses.Read(response, r, names.Count, target.Classes);
                string probability = reading.Ranked.Count > 0 ? reading.Ranked[0].Probability.ToString("R", CultureInfo.InvariantCulture) : "";
                Csv.Write(writer, new[] { names[r], reading.Predicted, probability }.Concat(ResultTable.CellsOf(response, outputColumns, r)));
            }

            done += names.Count;
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

        return columns is null ? throw new BatchFailedException("the zip holds no images") : (columns, null);
    }

    /// <summary>One chunk through the target; when nothing can answer, waits (up to <see cref="BatchOptions.ReplicaWait"/>) if allowed.</summary>
    private async Task<InferenceResponse> InferAsync(BatchTarget target, InferenceRequest request, bool waitForReplicas, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(options.Value.ReplicaWait.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            try
            {
                return await target.InferAsync(request, ct);
            }
            catch (ReplicaUnavailableException) when (waitForReplicas && Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), clock, ct); // a replica may be on its way (failover, scaling)
            }
        }
    }

    private Task<int> UpdateAsync(long batchId, Action<Microsoft.EntityFrameworkCore.Query.UpdateSettersBuilder<Batch>> set, CancellationToken ct) =>
        db.Set<Batch>().Where(b => b.Id == batchId).ExecuteUpdateAsync(set, ct);

    /// <summary>Whether a failed batch's <see cref="Batch.Error"/> says its rows were refused (the caller's data, a 400), rather than that scoring could not be done.</summary>
    public static bool IsRefusal(string? error) => error?.Contains(RefusedRows, StringComparison.Ordinal) == true;

    /// <summary>What to tell the user when scoring stopped with <paramref name="e"/>; null for a stop that is not a failure.</summary>
    private static string? FailureReason(Exception e, Batch batch, CancellationToken ct) => e switch
    {
        OperationCanceledException when ct.IsCancellationRequested => "scoring was cancelled (the request was aborted or the backend stopped)",
        BatchFailedException or ReplicaUnavailableException or ModelNotFoundException => e.Message,
        InferenceRejectedException => "the " + KindOf(batch) + RefusedRows + e.Message,
        InferenceProtocolException => "the " + KindOf(batch) + "'s answer cannot be written as rows: " + e.Message,
        IOException => "the batch's files could not be read or written: " + e.Message,
        FormatException => "the file could not be read as CSV: " + e.Message,
        HttpRequestException or TaskCanceledException => "a replica did not answer in time: " + e.Message,
        _ => null,
    };

    private static string KindOf(Batch batch) => batch.PipelineName is null ? "model" : "pipeline";

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
