using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Mds.Contracts.Api;

namespace Mds.Cli;

internal sealed partial class Commands
{
    // ------------------------------------------------------------------------------------------------------------
    // workers
    // ------------------------------------------------------------------------------------------------------------

    private Command Workers()
    {
        var workers = Cmd("workers", "The worker processes: list, drain, activate");
        var list = Cmd("list", "Every worker with its state, memory and replicas", "mdsctl workers list", "mdsctl workers list -o json");
        Act(list, async (c, ct) =>
        {
            using var api = c.Api();
            var items = await api.GetAsync<List<WorkerDto>>("api/workers", ct);
            c.Print(items, () =>
            {
                var table = Output.Table("ID", "NAME", "STATE", "CAPABILITIES", "MEMORY", "IN FLIGHT", "REPLICAS", "HEARTBEAT");
                foreach (var w in items)
                {
                    table.Row(w.Id, w.Name, w.State, Output.Join(w.Capabilities), $"{Output.Bytes(w.MemoryInUseBytes)} / {w.MemoryCapacityMb} MB", w.InFlight,
                        string.Join(", ", w.Replicas.Select(r => $"{r.ModelName}:{r.Version} {r.State}")), w.LastHeartbeatAt);
                }

                c.Console.Write(table);
            });
        });
        workers.Subcommands.Add(list);
        workers.Subcommands.Add(WorkerState("drain", "Stop placing replicas on a worker and move its replicas away", "drained"));
        workers.Subcommands.Add(WorkerState("activate", "Let a drained worker take replicas again", "active"));
        return workers;
    }

    private Command WorkerState(string verb, string description, string done)
    {
        var command = Cmd(verb, description, $"mdsctl workers {verb} 3", $"mdsctl workers {verb} worker-1");
        var worker = Arg("worker", "The worker's id or name (mdsctl workers list)");
        command.Arguments.Add(worker);
        Act(command, async (c, ct) =>
        {
            using var api = c.Api();
            string given = c.Value(worker);
            long id;
            if (!long.TryParse(given, NumberStyles.None, CultureInfo.InvariantCulture, out id))
            {
                var all = await api.GetAsync<List<WorkerDto>>("api/workers", ct);
                id = all.FirstOrDefault(w => w.Name == given)?.Id ?? throw new CliException($"there is no worker named '{given}'");
            }

            var node = await api.SendNodeAsync(HttpMethod.Post, $"api/workers/{id}/{verb}", null, ct);
            c.Print(node ?? new JsonObject { ["id"] = id }, () => c.Line($"Worker {given} {done}."));
        });
        return command;
    }

    // ------------------------------------------------------------------------------------------------------------
    // infer
    // ------------------------------------------------------------------------------------------------------------

    private Command Infer()
    {
        var command = Cmd("infer", "Run inference on a model (its live version, or --version) and print the outputs as a table",
            "mdsctl infer iris --data 5.1,3.5,1.4,0.2",
            "mdsctl infer iris --data '5.1,3.5,1.4,0.2;6.7,3.0,5.2,2.3'      # two rows",
            "mdsctl infer iris --csv rows.csv                                  # a header line is skipped",
            "mdsctl infer iris --json request.json -o json                     # a V2 request body; - reads stdin");
        var model = Arg("model", "The model's name");
        var version = new Option<int?>("--version", "-v") { Description = "A version instead of the live one" };
        var json = new Option<string?>("--json") { Description = "A file with an Open Inference Protocol (V2) request body (- for stdin)" };
        var csv = new Option<FileInfo?>("--csv") { Description = "A CSV file of rows for the model's single input" };
        var data = new Option<string?>("--data", "-d") { Description = "Numbers for the model's single input: comma-separated, rows separated by ';'" };
        command.Arguments.Add(model);
        command.Options.Add(version);
        command.Options.Add(json);
        command.Options.Add(csv);
        command.Options.Add(data);
        command.Validators.Add(r =>
        {
            int given = (r.GetValue(json) is null ? 0 : 1) + (r.GetValue(csv) is null ? 0 : 1) + (r.GetValue(data) is null ? 0 : 1);
            if (given != 1)
            {
                r.AddError("give exactly one of --json FILE, --csv FILE or --data 1,2,3.");
            }
        });
        Act(command, async (c, ct) =>
        {
            using var api = c.Api();
            string path = $"v2/models/{Seg(c.Value(model))}" + (c.Value(version) is { } v ? $"/versions/{v}" : "");
            HttpContent body;
            if (c.Value(json) is { } file)
            {
                string text = file == "-" ? await c.Env.In.ReadToEndAsync(ct) : await File.ReadAllTextAsync(file, ct);
                body = new StringContent(text, Encoding.UTF8, "application/json");
            }
            else
            {
                var rows = c.Value(data) is { } d ? InferInput.ParseData(d) : InferInput.ParseCsv(await File.ReadAllLinesAsync(c.Value(csv)!.FullName, ct));
                var metadata = await api.GetNodeAsync(path, ct);
                body = new StringContent(InferInput.Request(metadata, rows).ToJsonString(), Encoding.UTF8, "application/json");
            }

            var response = await api.SendNodeAsync(HttpMethod.Post, path + "/infer", body, ct);
            c.Print(response, () =>
            {
                c.Line($"{response?["model_name"]} version {response?["model_version"]}" + (response?["id"] is { } id ? $" (id {id})" : ""));
                var table = Output.Table("OUTPUT", "DATATYPE", "SHAPE", "DATA");
                foreach (var output in response?["outputs"] as JsonArray ?? [])
                {
                    table.Row(output?["name"]?.ToString(), output?["datatype"]?.ToString(), output?["shape"]?.ToJsonString(), Output.Values(output?["data"], 64));
                }

                c.Console.Write(table);
            });
        });
        return command;
    }

    // ------------------------------------------------------------------------------------------------------------
    // pipelines
    // ------------------------------------------------------------------------------------------------------------

    private Command Pipelines()
    {
        var pipelines = Cmd("pipelines", "Inference pipelines: apply, list, status, inspect, delete");
        var apply = Cmd("apply", "Create a pipeline, or a new version of it, from a YAML or JSON spec",
            "mdsctl pipelines apply -f pipeline.yaml", "mdsctl pipelines apply -f pipeline.yaml --dry-run");
        var file = new Option<FileInfo>("--file", "-f") { Description = "The spec (YAML, or JSON by its .json extension)", Required = true };
        var dryRun = new Option<bool>("--dry-run") { Description = "Check the spec without saving it" };
        apply.Options.Add(file);
        apply.Options.Add(dryRun);
        Act(apply, async (c, ct) =>
        {
            using var api = c.Api();
            var result = await api.SendContentAsync<PipelineApplyResult>(HttpMethod.Post, "api/pipelines" + (c.Value(dryRun) ? "?dryRun=true" : ""), await SpecAsync(c.Value(file), ct), ct);
            c.Print(result, () => c.Line($"Pipeline {result.Name} version {result.Version} {(c.Value(dryRun) ? "is valid" : result.Created ? "created" : "unchanged")}: {result.State}"
                + (result.StateReason is null ? "" : $" — {result.StateReason}")));
        });

        var list = Cmd("list", "Every pipeline with its state", "mdsctl pipelines list");
        Act(list, async (c, ct) =>
        {
            using var api = c.Api();
            var items = await api.GetAsync<List<PipelineDto>>("api/pipelines", ct);
            c.Print(items, () =>
            {
                var table = Output.Table("NAME", "LIVE", "LATEST", "STATE", "STEPS", "REASON", "CREATED");
                foreach (var p in items)
                {
                    table.Row(p.Name, p.LiveVersion, p.LatestVersion, p.State, p.Steps.Count, p.StateReason, p.CreatedAt);
                }

                c.Console.Write(table);
            });
        });

        var status = Cmd("status", "A pipeline's state and the readiness of each step", "mdsctl pipelines status fraud");
        var sName = Arg("pipeline", "The pipeline's name");
        status.Arguments.Add(sName);
        Act(status, async (c, ct) =>
        {
            using var api = c.Api();
            var p = await api.GetAsync<PipelineDto>($"api/pipelines/{Seg(c.Value(sName))}", ct);
            c.Print(p, () =>
            {
                c.Line($"{p.Name}: {p.State} (live version {p.LiveVersion?.ToString(CultureInfo.InvariantCulture) ?? "-"}, latest {p.LatestVersion})"
                    + (p.StateReason is null ? "" : $" — {p.StateReason}"));
                var table = Output.Table("STEP", "MODEL", "VERSION", "READY", "WAITING FOR");
                foreach (var s in p.Steps)
                {
                    table.Row(s.Name, s.Model, s.ModelVersion, s.Ready, s.Waiting);
                }

                c.Console.Write(table);
            });
        });

        var inspect = Cmd("inspect", "One run of a pipeline by its request id: each step's inputs and outputs", "mdsctl pipelines inspect fraud 3f1c…  -o yaml");
        var iName = Arg("pipeline", "The pipeline's name");
        var requestId = Arg("request-id", "The request's id");
        inspect.Arguments.Add(iName);
        inspect.Arguments.Add(requestId);
        Act(inspect, async (c, ct) =>
        {
            using var api = c.Api();
            var node = await api.GetNodeAsync($"api/pipelines/{Seg(c.Value(iName))}/runs/{Seg(c.Value(requestId))}", ct);
            c.Print(node, () => c.Line(Output.Yaml(node)));
        });

        var delete = Cmd("delete", "Delete a pipeline", "mdsctl pipelines delete fraud");
        var dName = Arg("pipeline", "The pipeline's name");
        delete.Arguments.Add(dName);
        Act(delete, async (c, ct) =>
        {
            using var api = c.Api();
            (await api.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"api/pipelines/{Seg(c.Value(dName))}"), ct)).Dispose();
            c.Line($"Pipeline {c.Value(dName)} deleted.");
        });

        foreach (var command in new[] { apply, list, status, inspect, delete })
        {
            pipelines.Subcommands.Add(command);
        }

        return pipelines;
    }

    private static async Task<HttpContent> SpecAsync(FileInfo file, CancellationToken ct)
    {
        if (!file.Exists)
        {
            throw new UsageException($"no such file: {file.FullName}");
        }

        string type = file.Extension.Equals(".json", StringComparison.OrdinalIgnoreCase) ? "application/json" : "application/yaml";
        var content = new StringContent(await File.ReadAllTextAsync(file.FullName, ct), Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(type) { CharSet = "utf-8" };
        return content;
    }

    // ------------------------------------------------------------------------------------------------------------
    // experiments
    // ------------------------------------------------------------------------------------------------------------

    private Command Experiments()
    {
        var experiments = Cmd("experiments", "A/B tests, canaries and mirrors: apply, list, results, promote, stop");
        var apply = Cmd("apply", "Start an experiment from a YAML or JSON spec", "mdsctl experiments apply -f canary.yaml");
        var file = new Option<FileInfo>("--file", "-f") { Description = "The spec (YAML, or JSON by its .json extension)", Required = true };
        apply.Options.Add(file);
        Act(apply, async (c, ct) =>
        {
            using var api = c.Api();
            var e = await api.SendContentAsync<ExperimentDto>(HttpMethod.Post, "api/experiments", await SpecAsync(c.Value(file), ct), ct);
            c.Print(e, () => c.Line($"Experiment {e.Name} on {e.Endpoint}: {e.State}" + (e.Reason is null ? "" : $" — {e.Reason}")));
        });

        var list = Cmd("list", "Every experiment", "mdsctl experiments list");
        Act(list, async (c, ct) =>
        {
            using var api = c.Api();
            var items = await api.GetAsync<List<ExperimentDto>>("api/experiments", ct);
            c.Print(items, () =>
            {
                var table = Output.Table("NAME", "STATE", "ENDPOINT", "CANDIDATES", "CREATED", "REASON");
                foreach (var e in items)
                {
                    table.Row(e.Name, e.State, e.Endpoint, string.Join(", ", e.Candidates.Select(x => $"{x.Key} {x.Percent.ToString("0.#", CultureInfo.InvariantCulture)}%")), e.CreatedAt, e.Reason);
                }

                c.Console.Write(table);
            });
        });

        var results = Cmd("results", "An experiment's results per candidate", "mdsctl experiments results canary", "mdsctl experiments results canary -o json");
        var rName = Arg("experiment", "The experiment's name");
        results.Arguments.Add(rName);
        Act(results, async (c, ct) =>
        {
            using var api = c.Api();
            var r = await api.GetAsync<ExperimentResultsDto>($"api/experiments/{Seg(c.Value(rName))}/results", ct);
            c.Print(r, () =>
            {
                c.Line($"{r.Experiment} (baseline {r.Baseline})");
                var table = Output.Table("CANDIDATE", "REQUESTS", "ERRORS", "P50 MS", "P95 MS", "P99 MS", "FEEDBACK", "ACCURACY");
                foreach (var x in r.Candidates)
                {
                    table.Row(x.Candidate, x.Requests, x.Errors, Round(x.P50Ms), Round(x.P95Ms), Round(x.P99Ms), x.Feedback, x.Accuracy is null ? null : Output.Json(x.Accuracy).ReplaceLineEndings(" "));
                }

                c.Console.Write(table);
            });
        });

        experiments.Subcommands.Add(apply);
        experiments.Subcommands.Add(list);
        experiments.Subcommands.Add(results);
        experiments.Subcommands.Add(ExperimentVerb("promote", "End the experiment and make a candidate the live version", true));
        experiments.Subcommands.Add(ExperimentVerb("stop", "End the experiment; traffic goes back to the default", false));
        return experiments;
    }

    private static string? Round(double? value) => value?.ToString("0.##", CultureInfo.InvariantCulture);

    private Command ExperimentVerb(string verb, string description, bool candidate)
    {
        var command = Cmd(verb, description, candidate ? "mdsctl experiments promote canary --candidate b" : "mdsctl experiments stop canary");
        var name = Arg("experiment", "The experiment's name");
        var key = new Option<string?>("--candidate") { Description = "The candidate to promote, as `experiments results` names it", Required = true };
        command.Arguments.Add(name);
        if (candidate)
        {
            command.Options.Add(key);
        }

        Act(command, async (c, ct) =>
        {
            using var api = c.Api();
            HttpContent? body = candidate && c.Value(key) is { } k ? JsonBody(new { candidate = k }) : null;
            var node = await api.SendNodeAsync(HttpMethod.Post, $"api/experiments/{Seg(c.Value(name))}/{verb}", body, ct);
            c.Print(node, () => c.Line($"Experiment {c.Value(name)}: {node?["state"]?.ToString() ?? verb}" + (node?["reason"] is { } r ? $" — {r}" : "")));
        });
        return command;
    }

    // ------------------------------------------------------------------------------------------------------------
    // records, drift
    // ------------------------------------------------------------------------------------------------------------

    private Command Records()
    {
        var records = Cmd("records", "The inference audit log");
        var search = Cmd("search", "Search inference records, newest first", "mdsctl records search --model iris --status 400", "mdsctl records search --request-id abc -o json");
        var model = new Option<string?>("--model") { Description = "Only this model" };
        var status = new Option<string?>("--status") { Description = "Only this HTTP status (or 'error')" };
        var requestId = new Option<string?>("--request-id") { Description = "Only this request id" };
        var take = new Option<int>("--take") { Description = "How many records", DefaultValueFactory = _ => 50 };
        foreach (var o in new Option[] { model, status, requestId, take })
        {
            search.Options.Add(o);
        }

        Act(search, async (c, ct) =>
        {
            using var api = c.Api();
            var query = new List<string> { "take=" + c.Value(take).ToString(CultureInfo.InvariantCulture) };
            if (c.Value(model) is { } m)
            {
                query.Add("model=" + Seg(m));
            }

            if (c.Value(status) is { } s)
            {
                query.Add("status=" + Seg(s));
            }

            if (c.Value(requestId) is { } r)
            {
                query.Add("requestId=" + Seg(r));
            }

            var page = await api.GetAsync<InferenceRecordPageDto>("api/records?" + string.Join('&', query), ct);
            c.Print(page, () =>
            {
                var table = Output.Table("TIME", "REQUEST", "MODEL", "VERSION", "STATUS", "MS", "CALLER", "ERROR");
                foreach (var x in page.Records)
                {
                    table.Row(x.Time, x.RequestId, x.ModelName, x.Version, x.Status, Round(x.LatencyMs), x.Caller, x.Error);
                }

                c.Console.Write(table);
            });
        });
        records.Subcommands.Add(search);
        return records;
    }

    private Command Drift()
    {
        var drift = Cmd("drift", "Data drift: status, run");
        var status = Cmd("status", "The latest drift report of every model version", "mdsctl drift status");
        Act(status, async (c, ct) =>
        {
            using var api = c.Api();
            var items = await api.GetAsync<List<DriftStatusDto>>("api/drift/status", ct);
            c.Print(items, () =>
            {
                var table = Output.Table("MODEL", "VERSION", "DRIFTED", "FEATURES", "REPORT", "TIME");
                foreach (var d in items)
                {
                    table.Row(d.Model, d.Version, d.Drifted, Output.Join(d.DriftedFeatures), d.ReportId, d.Time);
                }

                c.Console.Write(table);
            });
        });
        var run = Cmd("run", "Check drift now over a version's newest inputs", "mdsctl drift run iris 1");
        var name = Arg("model", "The model's name");
        var version = IntArg("version", "The version");
        run.Arguments.Add(name);
        run.Arguments.Add(version);
        Act(run, async (c, ct) =>
        {
            using var api = c.Api();
            var r = await api.SendJsonAsync<DriftReportDto>(HttpMethod.Post, $"api/models/{Seg(c.Value(name))}/versions/{c.Value(version)}/drift", null, ct);
            c.Print(r, () =>
            {
                c.Line($"{r.Model} version {r.Version}: {(r.Drifted ? "DRIFTED" : "no drift")} over {r.Rows} rows ({Output.Time(r.WindowFrom)} – {Output.Time(r.WindowTo)})");
                var table = Output.Table("FEATURE", "DRIFTED", "DETAILS");
                foreach (var f in r.Features)
                {
                    table.Row(Output.ToNode(f)?["name"]?.ToString(), Output.ToNode(f)?["drifted"]?.ToString(), Output.ToNode(f)?.ToJsonString());
                }

                c.Console.Write(table);
            });
        });
        drift.Subcommands.Add(status);
        drift.Subcommands.Add(run);
        return drift;
    }

    private Command Datasets()
    {
        var datasets = Cmd("datasets", "Reference datasets (drift, outliers, explanations)");
        var upload = Cmd("upload", "Upload a version's reference dataset (CSV with a header row)",
            "mdsctl datasets upload iris 1 samples/iris/train.csv --label-column species");
        var name = Arg("model", "The model's name");
        var version = IntArg("version", "The version");
        var file = new Argument<FileInfo>("file") { Description = "The CSV file" };
        var label = new Option<string?>("--label-column") { Description = "The column that holds the label (not a feature)" };
        upload.Arguments.Add(name);
        upload.Arguments.Add(version);
        upload.Arguments.Add(file);
        upload.Options.Add(label);
        Act(upload, async (c, ct) =>
        {
            var csv = c.Value(file);
            if (!csv.Exists)
            {
                throw new UsageException($"no such file: {csv.FullName}");
            }

            using var api = c.Api();
            using var form = new MultipartFormDataContent();
            if (c.Value(label) is { } l)
            {
                form.Add(new StringContent(l), "labelColumn");
            }

            var part = new StreamContent(csv.OpenRead());
            part.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
            form.Add(part, "file", csv.Name);
            var node = await api.SendNodeAsync(HttpMethod.Post, $"api/models/{Seg(c.Value(name))}/versions/{c.Value(version)}/dataset", form, ct);
            c.Print(node, () => c.Line($"Uploaded the reference dataset of {c.Value(name)} version {c.Value(version)}"
                + (node?["rows"] is { } rows ? $": {rows} rows" : "") + "."));
        });
        datasets.Subcommands.Add(upload);
        return datasets;
    }

    // ------------------------------------------------------------------------------------------------------------
    // completion
    // ------------------------------------------------------------------------------------------------------------

    private Command Completion()
    {
        var command = Cmd("completion", "Print the shell completion script (bash or zsh)",
            "source <(mdsctl completion bash)                  # this shell",
            "mdsctl completion bash > /etc/bash_completion.d/mdsctl");
        var shell = new Argument<string>("shell") { Description = "bash or zsh", DefaultValueFactory = _ => "bash" };
        shell.AcceptOnlyFromAmong("bash", "zsh");
        command.Arguments.Add(shell);
        Act(command, (c, _) =>
        {
            c.Line(c.Value(shell) == "zsh" ? "autoload -U +X bashcompinit && bashcompinit\n" + BashCompletion : BashCompletion);
            return Task.CompletedTask;
        });
        return command;
    }

    /// <summary>Asks mdsctl itself for the completions (System.CommandLine's <c>[suggest:POSITION]</c> directive).</summary>
    internal const string BashCompletion = """
        # mdsctl completion (bash): source <(mdsctl completion bash)
        _mdsctl_complete() {
          local line="${COMP_LINE#*mdsctl}" point
          line="${line# }"
          point=$(( COMP_POINT - ${#COMP_LINE} + ${#line} ))
          (( point < 0 )) && point=0
          local IFS=$'\n'
          COMPREPLY=( $(compgen -W "$(mdsctl "[suggest:${point}]" "${line}" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}") )
        }
        complete -o default -F _mdsctl_complete mdsctl
        """;
}
