using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using Mds.Contracts.Api;
using Spectre.Console;

namespace Mds.Cli;

internal sealed partial class Commands
{
    // ------------------------------------------------------------------------------------------------------------
    // batches
    // ------------------------------------------------------------------------------------------------------------

    private Command Batches()
    {
        var batches = Cmd("batches", "Batch predictions over a CSV: run, list, show, result, delete");

        var run = Cmd("run", "Score every row of a CSV with a model (or a pipeline), with a progress bar, then print the result CSV (or write it to --out)",
            "mdsctl batches run rows.csv --model iris                      # the result CSV on stdout",
            "mdsctl batches run rows.csv --model iris:2 --out scored.csv   # version 2; the result in a file",
            "mdsctl batches run rows.csv --pipeline fraud -o json          # the batch's state as JSON",
            "mdsctl batches run labelled.csv --model iris --label-column species");
        var file = new Argument<FileInfo>("file") { Description = "The CSV (a header row naming the model's features, then one row per prediction)" };
        var model = new Option<string?>("--model", "-m") { Description = "The model, NAME or NAME:VERSION (default: the live version)", HelpName = "name[:version]" };
        var pipeline = new Option<string?>("--pipeline") { Description = "A tabular pipeline instead of a model (its live version)" };
        var label = new Option<string?>("--label-column") { Description = "The column that holds the true label (kept, not a feature; the summary gets accuracy)" };
        var outFile = new Option<FileInfo?>("--out") { Description = "Write the result CSV to this file instead of standard output" };
        run.Arguments.Add(file);
        foreach (var o in new Option[] { model, pipeline, label, outFile })
        {
            run.Options.Add(o);
        }

        run.Validators.Add(r =>
        {
            if ((r.GetValue(model) is null) == (r.GetValue(pipeline) is null))
            {
                r.AddError("give exactly one of --model NAME[:VERSION] or --pipeline NAME.");
            }
            else if (r.GetValue(model) is { } m && ModelRef.Parse(m) is null)
            {
                r.AddError($"'{m}' is not NAME or NAME:VERSION (e.g. --model iris:2).");
            }
        });
        Act(run, async (c, ct) =>
        {
            var csv = c.Value(file);
            if (!csv.Exists)
            {
                throw new UsageException($"no such file: {csv.FullName}");
            }

            string path;
            using var form = new MultipartFormDataContent();
            if (c.Value(model) is { } m)
            {
                var target = ModelRef.Parse(m)!.Value;
                path = $"api/models/{Seg(target.Name)}/batches";
                if (target.Version is { } v)
                {
                    form.Add(new StringContent(v.ToString(CultureInfo.InvariantCulture)), "version");
                }
            }
            else
            {
                path = $"api/pipelines/{Seg(c.Value(pipeline)!)}/batches";
            }

            if (c.Value(label) is { } l)
            {
                form.Add(new StringContent(l), "labelColumn");
            }

            var part = new StreamContent(csv.OpenRead());
            part.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
            form.Add(part, "file", csv.Name);

            using var api = c.Api();
            BatchDto batch;
            if (c.Format == OutputFormat.Table && c.Console.Profile.Capabilities.Interactive)
            {
                batch = await c.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                    .StartAsync(async p =>
                    {
                        var task = p.AddTask($"Scoring {Markup.Escape(csv.Name)}", maxValue: 1);
                        task.IsIndeterminate = true;
                        var created = await api.SendContentAsync<BatchDto>(HttpMethod.Post, path, form, ct);
                        task.IsIndeterminate = false;
                        return await WaitForBatchAsync(api, created, b =>
                        {
                            task.MaxValue = Math.Max(b.TotalRows, 1);
                            task.Value = b.State == BatchStates.Succeeded ? task.MaxValue : b.DoneRows;
                        }, ct);
                    });
            }
            else
            {
                batch = await WaitForBatchAsync(api, await api.SendContentAsync<BatchDto>(HttpMethod.Post, path, form, ct), null, ct);
            }

            if (batch.State == BatchStates.Failed)
            {
                throw new CliException($"batch {batch.Id} failed: {batch.Error}");
            }

            await WriteResultAsync(c, api, batch, c.Value(outFile), ct);
        });

        var list = Cmd("list", "Your batches (admins: everyone's), newest first", "mdsctl batches list", "mdsctl batches list --model iris -o json");
        var lModel = new Option<string?>("--model") { Description = "Only this model's batches" };
        var lPipeline = new Option<string?>("--pipeline") { Description = "Only this pipeline's batches" };
        var limit = new Option<int>("--limit") { Description = "How many batches (at most 500)", DefaultValueFactory = _ => 50 };
        list.Options.Add(lModel);
        list.Options.Add(lPipeline);
        list.Options.Add(limit);
        Act(list, async (c, ct) =>
        {
            using var api = c.Api();
            var query = new List<string> { "limit=" + c.Value(limit).ToString(CultureInfo.InvariantCulture) };
            if (c.Value(lModel) is { } m)
            {
                query.Add("model=" + Seg(m));
            }

            if (c.Value(lPipeline) is { } p)
            {
                query.Add("pipeline=" + Seg(p));
            }

            var items = await api.GetAsync<List<BatchDto>>("api/batches?" + string.Join('&', query), ct);
            c.Print(items, () =>
            {
                var table = Output.Table("ID", "TARGET", "VERSION", "STATE", "ROWS", "FILE", "BY", "CREATED", "ERROR");
                foreach (var b in items)
                {
                    table.Row(b.Id, b.Pipeline is null ? b.ModelName : b.Pipeline + " (pipeline)", b.Version, b.State, $"{b.DoneRows}/{b.TotalRows}", b.FileName, b.CreatedBy, b.CreatedAt, b.Error);
                }

                c.Console.Write(table);
            });
        });

        var show = Cmd("show", "A batch's state, progress and summary", "mdsctl batches show 12", "mdsctl batches show 12 -o yaml");
        var sId = new Argument<long>("id") { Description = "The batch's id (mdsctl batches list)" };
        show.Arguments.Add(sId);
        Act(show, async (c, ct) =>
        {
            using var api = c.Api();
            var b = await api.GetAsync<BatchDto>($"api/batches/{c.Value(sId)}", ct);
            c.Print(b, () =>
            {
                var grid = new Grid().AddColumn().AddColumn();
                grid.AddRow("Batch", b.Id.ToString(CultureInfo.InvariantCulture));
                grid.AddRow("Target", Markup.Escape(b.Pipeline is null ? $"model {b.ModelName} version {b.Version}" : $"pipeline {b.Pipeline} version {b.Version}"));
                grid.AddRow("State", Markup.Escape(b.State + (b.Error is null ? "" : " — " + b.Error)));
                grid.AddRow("Rows", $"{b.DoneRows} of {b.TotalRows} scored");
                grid.AddRow("File", Markup.Escape(b.FileName + (b.LabelColumn is null ? "" : $" (label column {b.LabelColumn})")));
                grid.AddRow("Summary", Markup.Escape(b.Summary ?? "-"));
                grid.AddRow("Created", Markup.Escape($"{Output.Time(b.CreatedAt)} by {b.CreatedBy}"));
                grid.AddRow("Finished", Output.Time(b.FinishedAt));
                c.Console.Write(grid);
            });
        });

        var result = Cmd("result", "Print a finished batch's result CSV (or write it to --out)", "mdsctl batches result 12 > scored.csv", "mdsctl batches result 12 --out scored.csv");
        var rId = new Argument<long>("id") { Description = "The batch's id (mdsctl batches list)" };
        var rOut = new Option<FileInfo?>("--out") { Description = "Write the result CSV to this file instead of standard output" };
        result.Arguments.Add(rId);
        result.Options.Add(rOut);
        Act(result, async (c, ct) =>
        {
            using var api = c.Api();
            var b = await api.GetAsync<BatchDto>($"api/batches/{c.Value(rId)}", ct);
            await WriteResultAsync(c, api, b, c.Value(rOut), ct);
        });

        var delete = Cmd("delete", "Delete a batch and its files (a running one stops)", "mdsctl batches delete 12");
        var dId = new Argument<long>("id") { Description = "The batch's id (mdsctl batches list)" };
        delete.Arguments.Add(dId);
        Act(delete, async (c, ct) =>
        {
            using var api = c.Api();
            (await api.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"api/batches/{c.Value(dId)}"), ct)).Dispose();
            c.Line($"Batch {c.Value(dId)} deleted.");
        });

        foreach (var command in new[] { run, list, show, result, delete })
        {
            batches.Subcommands.Add(command);
        }

        return batches;
    }

    /// <summary>Polls a batch the backend took as a job (202) until it is Succeeded or Failed; a small one (201) is done already.</summary>
    private static async Task<BatchDto> WaitForBatchAsync(ApiClient api, BatchDto batch, Action<BatchDto>? progress, CancellationToken ct)
    {
        while (true)
        {
            progress?.Invoke(batch);
            if (batch.State is BatchStates.Succeeded or BatchStates.Failed)
            {
                return batch;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
            batch = await api.GetAsync<BatchDto>($"api/batches/{batch.Id}", ct);
        }
    }

    /// <summary>
    /// The result CSV to <paramref name="file"/> (then a line saying so, or the batch as JSON/YAML), or to standard output
    /// (table format; with -o json|yaml and no file, the batch itself is printed).
    /// </summary>
    private static async Task WriteResultAsync(CliContext c, ApiClient api, BatchDto batch, FileInfo? file, CancellationToken ct)
    {
        if (file is null && c.Format != OutputFormat.Table)
        {
            c.Print(batch, () => { });
            return;
        }

        using var response = await api.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"api/batches/{batch.Id}/result.csv"), ct);
        if (file is null)
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
            var buffer = new char[16384];
            int read;
            while ((read = await reader.ReadAsync(buffer, ct)) > 0)
            {
                await c.Env.Out.WriteAsync(buffer.AsMemory(0, read), ct);
            }

            await c.Env.Out.FlushAsync(ct);
            return;
        }

        await using (var target = new FileStream(file.FullName, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            await response.Content.CopyToAsync(target, ct);
        }

        c.Print(batch, () => c.Line($"Batch {batch.Id}: {batch.TotalRows} rows scored by {(batch.Pipeline is null ? "model" : "pipeline")} "
            + $"{batch.Pipeline ?? batch.ModelName} version {batch.Version}; the result is in {file.FullName}."
            + (batch.Summary is null ? "" : " " + batch.Summary)));
    }
}

/// <summary>A model named as <c>NAME</c> or <c>NAME:VERSION</c>.</summary>
internal readonly record struct ModelRef(string Name, int? Version)
{
    public static ModelRef? Parse(string text)
    {
        int colon = text.LastIndexOf(':');
        if (colon < 0)
        {
            return text.Trim().Length > 0 ? new ModelRef(text.Trim(), null) : null;
        }

        string name = text[..colon].Trim();
        return name.Length > 0 && int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int version) && version > 0
            ? new ModelRef(name, version)
            : null;
    }
}
