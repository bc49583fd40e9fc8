namespace Mds.Contracts.Api;

/// <summary>
/// A batch prediction: a CSV scored row by row by one model version, or by one pipeline's live version. Small files are
/// scored while the upload waits (<c>POST /api/models/{name}/batches</c> or <c>POST /api/pipelines/{name}/batches</c>
/// answers 201, Succeeded); larger ones become a Hangfire job (202, Queued) whose progress <c>GET /api/batches/{id}</c> reports.
/// </summary>
/// <param name="Id">The batch's id.</param>
/// <param name="ModelName">The model that scores it; for a pipeline batch the pipeline's V2 model name, <c>{pipeline}.pipeline</c>.</param>
/// <param name="Version">The model version that scores it (the live one at upload when none was named); for a pipeline batch, the pipeline version live at upload.</param>
/// <param name="State">Queued, Running, Succeeded or Failed (<see cref="BatchStates"/>).</param>
/// <param name="FileName">The uploaded file's name.</param>
/// <param name="TotalRows">Data rows in the file.</param>
/// <param name="DoneRows">Rows scored so far.</param>
/// <param name="Error">Why it failed, in words.</param>
/// <param name="Summary">For files with a label column: how the predictions compare (accuracy, or mean absolute error).</param>
/// <param name="Columns">The result's columns: the file's, then the model's (or pipeline's) outputs.</param>
/// <param name="CreatedBy">Who uploaded it.</param>
/// <param name="CreatedAt">When.</param>
/// <param name="StartedAt">When scoring began.</param>
/// <param name="FinishedAt">When it succeeded or failed.</param>
/// <param name="LabelColumn">The file's label column (the true answers), when it has one.</param>
/// <param name="Pipeline">The pipeline that scores it, for a pipeline batch; null for a model batch.</param>
public sealed record BatchDto(
    long Id,
    string ModelName,
    int Version,
    string State,
    string FileName,
    int TotalRows,
    int DoneRows,
    string? Error,
    string? Summary,
    IReadOnlyList<string> Columns,
    string CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? LabelColumn = null,
    string? Pipeline = null);

/// <summary>A page of a batch's result rows: <c>GET /api/batches/{id}/rows?offset=&amp;limit=</c>.</summary>
/// <param name="Columns">Column names, as in the result CSV.</param>
/// <param name="Rows">The rows, each cell as text.</param>
/// <param name="Offset">Index of the first row returned.</param>
/// <param name="Total">Rows in the whole result.</param>
public sealed record BatchRowsDto(IReadOnlyList<string> Columns, IReadOnlyList<IReadOnlyList<string>> Rows, int Offset, int Total);

/// <summary>Batch states.</summary>
public static class BatchStates
{
    /// <summary>Waiting for the job to start.</summary>
    public const string Queued = "Queued";
    /// <summary>Being scored; see DoneRows.</summary>
    public const string Running = "Running";
    /// <summary>Every row scored; the result can be read and downloaded.</summary>
    public const string Succeeded = "Succeeded";
    /// <summary>Stopped; see Error.</summary>
    public const string Failed = "Failed";
}
