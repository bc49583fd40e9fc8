using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using Mds.Contracts.Api;
using Spectre.Console;

namespace Mds.Cli;

internal sealed partial class Commands
{
    private Command Models()
    {
        var models = Cmd("models", "The model registry: list, show, upload, delete, live, scale, tags");

        var list = Cmd("list", "Every model with its live version", "mdsctl models list", "mdsctl models list --tag vision -o json");
        var tag = new Option<string?>("--tag") { Description = "Only models with this tag" };
        var search = new Option<string?>("--search") { Description = "Only models whose name, description or tags contain this" };
        list.Options.Add(tag);
        list.Options.Add(search);
        Act(list, async (c, ct) =>
        {
            using var api = c.Api();
            var query = new List<string>();
            if (c.Value(tag) is { } t)
            {
                query.Add("tag=" + Seg(t));
            }

            if (c.Value(search) is { } s)
            {
                query.Add("search=" + Seg(s));
            }

            var items = await api.GetAsync<List<ModelDto>>("api/models" + (query.Count > 0 ? "?" + string.Join('&', query) : ""), ct);
            c.Print(items, () =>
            {
                var table = Output.Table("NAME", "LIVE", "VERSIONS", "STATE", "TAGS", "CREATED");
                foreach (var m in items)
                {
                    var live = m.Versions.FirstOrDefault(v => v.IsLive) ?? m.Versions.OrderByDescending(v => v.Version).FirstOrDefault();
                    table.Row(m.Name, m.LiveVersion, m.Versions.Count, live?.State, Output.Join(m.Tags), m.CreatedAt);
                }

                c.Console.Write(table);
            });
        });

        var show = Cmd("show", "A model with its versions, or one version (--version) with its tensors and replicas", "mdsctl models show iris", "mdsctl models show iris --version 2 -o yaml");
        var name = Arg("model", "The model's name");
        var version = new Option<int?>("--version", "-v") { Description = "One version" };
        show.Arguments.Add(name);
        show.Options.Add(version);
        Act(show, async (c, ct) =>
        {
            using var api = c.Api();
            if (c.Value(version) is { } v)
            {
                var dto = await api.GetAsync<ModelVersionDto>($"api/models/{Seg(c.Value(name))}/versions/{v}", ct);
                c.Print(dto, () => PrintVersion(c, dto));
                return;
            }

            var model = await api.GetAsync<ModelDto>($"api/models/{Seg(c.Value(name))}", ct);
            c.Print(model, () =>
            {
                var grid = new Grid().AddColumn().AddColumn();
                grid.AddRow("Name", Markup.Escape(model.Name));
                grid.AddRow("Description", Markup.Escape(model.Description ?? "-"));
                grid.AddRow("Live version", model.LiveVersion?.ToString(CultureInfo.InvariantCulture) ?? "-");
                grid.AddRow("Tags", Markup.Escape(Output.Join(model.Tags)));
                grid.AddRow("Created", Output.Time(model.CreatedAt));
                c.Console.Write(grid);
                var table = Output.Table("VERSION", "LIVE", "STATE", "REPLICAS", "SIZE", "REQUIREMENTS", "CREATED", "BY", "REASON");
                foreach (var v in model.Versions.OrderBy(v => v.Version))
                {
                    table.Row(v.Version, v.IsLive, v.State, $"{v.ReplicaStates.Count(r => r.State == ReplicaStates.Ready)}/{v.Replicas}", Output.Bytes(v.SizeBytes),
                        Output.Join(v.Requirements), v.CreatedAt, v.CreatedBy, v.StateReason);
                }

                c.Console.Write(table);
            });
        });

        var upload = Cmd("upload", "Upload an ONNX model (a new version of NAME), with a progress bar",
            "mdsctl models upload iris.onnx --name iris", "mdsctl models upload big.onnx --name big --data big.onnx.data --replicas 2 --wait");
        var file = new Argument<FileInfo>("file") { Description = "The .onnx file (or a zip of the model and its external-data files)" };
        var uploadName = new Option<string>("--name", "-n") { Description = "The model's name", Required = true };
        var description = new Option<string?>("--description") { Description = "What the version is" };
        var requirements = new Option<string?>("--requirements") { Description = "Capabilities a worker needs (comma-separated; default onnx)" };
        var replicas = new Option<int?>("--replicas") { Description = "Replicas to run" };
        var memory = new Option<int?>("--memory-mb") { Description = "Memory one replica needs (MB)" };
        var tags = new Option<string?>("--tags") { Description = "Tags to add to the model (comma-separated)" };
        var data = new Option<FileInfo[]>("--data") { Description = "External-data files next to the model", AllowMultipleArgumentsPerToken = true };
        var wait = new Option<bool>("--wait") { Description = "Wait until the version is Ready (or Failed)" };
        upload.Arguments.Add(file);
        foreach (var o in new Option[] { uploadName, description, requirements, replicas, memory, tags, data, wait })
        {
            upload.Options.Add(o);
        }

        Act(upload, async (c, ct) =>
        {
            var path = c.Value(file);
            if (!path.Exists)
            {
                throw new UsageException($"no such file: {path.FullName}");
            }

            using var api = c.Api();
            using var form = new MultipartFormDataContent();
            void Field(string key, object? value)
            {
                if (value is not null)
                {
                    form.Add(new StringContent(Convert.ToString(value, CultureInfo.InvariantCulture)!), key);
                }
            }

            Field("name", c.Value(uploadName));
            Field("description", c.Value(description));
            Field("requirements", c.Value(requirements));
            Field("replicas", c.Value(replicas));
            Field("memoryMb", c.Value(memory));
            Field("tags", c.Value(tags));
            var files = new List<(FileInfo File, string Part)> { (path, "file") };
            files.AddRange((c.Value(data) ?? []).Select(f => (f, "data")));
            long total = files.Sum(f => f.File.Exists ? f.File.Length : throw new UsageException($"no such file: {f.File.FullName}"));
            long sent = 0;
            Action<long>? progress = null;
            foreach (var (f, part) in files)
            {
                var content = new ProgressStreamContent(f.OpenRead(), n =>
                {
                    sent += n;
                    progress?.Invoke(sent);
                });
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                form.Add(content, part, f.Name);
            }

            ModelVersionDto created;
            if (c.Format == OutputFormat.Table && c.Console.Profile.Capabilities.Interactive)
            {
                created = await c.Console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                    .StartAsync(async p =>
                    {
                        var task = p.AddTask($"Uploading {Markup.Escape(path.Name)}", maxValue: Math.Max(total, 1));
                        progress = s => task.Value = s;
                        var result = await api.SendContentAsync<ModelVersionDto>(HttpMethod.Post, "api/models", form, ct);
                        task.Value = task.MaxValue;
                        return result;
                    });
            }
            else
            {
                created = await api.SendContentAsync<ModelVersionDto>(HttpMethod.Post, "api/models", form, ct);
            }

            if (c.Value(wait))
            {
                created = await WaitForVersionAsync(api, created.ModelName, created.Version, ct);
            }

            c.Print(created, () =>
            {
                c.Line($"Uploaded {created.ModelName} version {created.Version} ({Output.Bytes(created.SizeBytes)}, sha256 {created.Sha256[..12]}…): {created.State}"
                    + (created.StateReason is null ? "" : $" — {created.StateReason}"));
            });
            if (created.State == VersionStates.Failed)
            {
                throw new CliException($"{created.ModelName} version {created.Version} failed: {created.StateReason}");
            }
        });

        var delete = Cmd("delete", "Delete a version of a model (its replicas are unloaded)", "mdsctl models delete iris 1");
        var dName = Arg("model", "The model's name");
        var dVersion = IntArg("version", "The version to delete");
        delete.Arguments.Add(dName);
        delete.Arguments.Add(dVersion);
        Act(delete, async (c, ct) =>
        {
            using var api = c.Api();
            (await api.SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"api/models/{Seg(c.Value(dName))}/versions/{c.Value(dVersion)}"), ct)).Dispose();
            c.Line($"Deleted {c.Value(dName)} version {c.Value(dVersion)}.");
        });

        var live = Cmd("live", "Make a version the live one (the one /v2/models/NAME answers with)", "mdsctl models live iris 2");
        var lName = Arg("model", "The model's name");
        var lVersion = IntArg("version", "The version to serve");
        live.Arguments.Add(lName);
        live.Arguments.Add(lVersion);
        Act(live, async (c, ct) =>
        {
            using var api = c.Api();
            var node = await api.SendNodeAsync(HttpMethod.Post, $"api/models/{Seg(c.Value(lName))}/versions/{c.Value(lVersion)}/live", null, ct);
            c.Print(node, () => c.Line($"{c.Value(lName)} version {c.Value(lVersion)} is live."));
        });

        var scale = Cmd("scale", "Set a version's replicas (and autoscaling bounds)", "mdsctl models scale iris 1 3", "mdsctl models scale iris 1 2 --min 1 --max 4");
        var sName = Arg("model", "The model's name");
        var sVersion = IntArg("version", "The version");
        var sReplicas = IntArg("replicas", "How many replicas");
        var min = new Option<int?>("--min") { Description = "Autoscaling: fewest replicas" };
        var max = new Option<int?>("--max") { Description = "Autoscaling: most replicas" };
        scale.Arguments.Add(sName);
        scale.Arguments.Add(sVersion);
        scale.Arguments.Add(sReplicas);
        scale.Options.Add(min);
        scale.Options.Add(max);
        Act(scale, async (c, ct) =>
        {
            using var api = c.Api();
            var dto = await api.SendJsonAsync<ModelVersionDto>(HttpMethod.Put, $"api/models/{Seg(c.Value(sName))}/versions/{c.Value(sVersion)}/replicas",
                new ScaleRequest(c.Value(sReplicas), c.Value(min), c.Value(max)), ct);
            c.Print(dto, () => c.Line($"{dto.ModelName} version {dto.Version}: {dto.Replicas} replica(s), {dto.State}."));
        });

        var tagsCmd = Cmd("tags", "Replace a model's tags", "mdsctl models tags iris tabular demo", "mdsctl models tags iris     # no tags");
        var tName = Arg("model", "The model's name");
        var tValues = new Argument<string[]>("tags") { Description = "The new tags", Arity = ArgumentArity.ZeroOrMore };
        tagsCmd.Arguments.Add(tName);
        tagsCmd.Arguments.Add(tValues);
        Act(tagsCmd, async (c, ct) =>
        {
            using var api = c.Api();
            var dto = await api.SendJsonAsync<ModelDto>(HttpMethod.Put, $"api/models/{Seg(c.Value(tName))}/tags", new TagsRequest(c.Value(tValues) ?? []), ct);
            c.Print(dto, () => c.Line($"{dto.Name}: tags {(dto.Tags is { Count: > 0 } t ? Output.Join(t) : "(none)")}."));
        });

        foreach (var command in new[] { list, show, upload, delete, live, scale, tagsCmd })
        {
            models.Subcommands.Add(command);
        }

        return models;
    }

    private static void PrintVersion(CliContext c, ModelVersionDto v)
    {
        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("Model", Markup.Escape($"{v.ModelName} version {v.Version}{(v.IsLive ? " (live)" : "")}"));
        grid.AddRow("State", Markup.Escape(v.State + (v.StateReason is null ? "" : " — " + v.StateReason)));
        grid.AddRow("Size", Markup.Escape($"{Output.Bytes(v.SizeBytes)}, sha256 {v.Sha256}"));
        grid.AddRow("Requirements", Markup.Escape(Output.Join(v.Requirements)));
        grid.AddRow("Created", Markup.Escape($"{Output.Time(v.CreatedAt)} by {v.CreatedBy ?? "-"}"));
        c.Console.Write(grid);
        var tensors = Output.Table("TENSOR", "NAME", "DATATYPE", "SHAPE");
        foreach (var t in v.Inputs)
        {
            tensors.Row("input", t.Name, t.Datatype, "[" + string.Join(", ", t.Shape) + "]");
        }

        foreach (var t in v.Outputs)
        {
            tensors.Row("output", t.Name, t.Datatype, "[" + string.Join(", ", t.Shape) + "]");
        }

        c.Console.Write(tensors);
        var replicas = Output.Table("REPLICA", "WORKER", "STATE", "ERROR", "UPDATED");
        foreach (var r in v.ReplicaStates)
        {
            replicas.Row(r.Id, r.WorkerName, r.State, r.Error, r.UpdatedAt);
        }

        c.Console.Write(replicas);
    }

    private static async Task<ModelVersionDto> WaitForVersionAsync(ApiClient api, string name, int version, CancellationToken ct)
    {
        while (true)
        {
            var dto = await api.GetAsync<ModelVersionDto>($"api/models/{Seg(name)}/versions/{version}", ct);
            if (dto.State is VersionStates.Ready or VersionStates.Failed)
            {
                return dto;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), ct);
        }
    }
}

/// <summary>Stream content that reports each chunk it sends (for the upload's progress bar).</summary>
internal sealed class ProgressStreamContent(Stream stream, Action<long> sent) : HttpContent
{
    protected override async Task SerializeToStreamAsync(Stream target, System.Net.TransportContext? context) =>
        await SerializeToStreamAsync(target, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream target, System.Net.TransportContext? context, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            sent(read);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = stream.CanSeek ? stream.Length : 0;
        return stream.CanSeek;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            stream.Dispose();
        }

        base.Dispose(disposing);
    }
}
