using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Mds.Backend.Audit;
using Mds.Contracts.Api;
using Mds.IntegrationTests.Infrastructure;
using Mds.ModelGen;
using Npgsql;

namespace Mds.IntegrationTests.Audit;

/// <summary>The audit log: every inference a worker answers becomes a record, written in batches, surviving a database outage.</summary>
[Collection(ClusterCollection.Name)]
public sealed class AuditTests(MdsCluster cluster)
{
    [Fact]
    public async Task Inferences_through_the_gateway_and_straight_to_a_worker_are_recorded_with_tensors_caller_and_trace()
    {
        await cluster.EnsureReadyAsync("audited", TestGraphs.Linear([2f], 1f));
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        string requestId = "audit-" + Guid.NewGuid().ToString("N");
        using var ok = new HttpRequestMessage(HttpMethod.Post, "/v2/models/audited/infer") { Content = V2Json.Request("x", [2, 1], "FP32", new[] { 1f, 2f }) };
        ok.Headers.Add(MdsHeaders.RequestId, requestId);
        Assert.Equal(HttpStatusCode.OK, (await analyst.SendAsync(ok)).StatusCode);
        string badId = requestId + "-bad";
        using var bad = new HttpRequestMessage(HttpMethod.Post, "/v2/models/audited/infer") { Content = V2Json.Request("x", [1, 3], "FP32", new[] { 1f, 2f, 3f }) };
        bad.Headers.Add(MdsHeaders.RequestId, badId);
        Assert.Equal(HttpStatusCode.BadRequest, (await analyst.SendAsync(bad)).StatusCode);

        var record = await WaitForRecordAsync(analyst, requestId);
        Assert.Equal(("audited", 1, 200, MdsCluster.EmailOf(Roles.Analyst)), (record.ModelName, record.Version, record.Status, record.Caller));
        Assert.Matches("^[0-9a-f]{32}$", record.TraceId!);
        Assert.True(record.LatencyMs > 0);
        var full = (await analyst.GetFromJsonAsync<InferenceRecordDto>($"/api/records/{record.Id}"))!;
        Assert.Equal([1.0, 2.0], full.Request!.Value.GetProperty("inputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetDouble()));
        Assert.Equal([3.0, 5.0], full.Response!.Value.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetDouble()));

        var failed = await WaitForRecordAsync(analyst, badId);
        Assert.Equal(400, failed.Status);
        Assert.Contains("input 'x'", failed.Error, StringComparison.Ordinal);
        var errors = (await analyst.GetFromJsonAsync<InferenceRecordPageDto>("/api/records?model=audited&status=error"))!;
        Assert.Contains(errors.Records, r => r.RequestId == badId);
        Assert.DoesNotContain(errors.Records, r => r.RequestId == requestId);

        // straight to the worker: the caller is the user the token names
        using var worker = await cluster.WorkerClientAsync(cluster.Workers[0].Url);
        using var direct = new HttpRequestMessage(HttpMethod.Post, "/v2/models/audited/infer") { Content = V2Json.Request("x", [1, 1], "FP32", new[] { 4f }) };
        string directId = requestId + "-direct";
        direct.Headers.Add(MdsHeaders.RequestId, directId);
        Assert.Equal(HttpStatusCode.OK, (await worker.SendAsync(direct)).StatusCode);
        Assert.Equal(MdsCluster.EmailOf(Roles.Analyst), (await WaitForRecordAsync(analyst, directId)).Caller);

        Assert.Equal(HttpStatusCode.BadRequest, (await analyst.GetAsync("/api/records?status=sometimes")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await analyst.GetAsync($"/api/records/{Guid.NewGuid()}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await (await cluster.ClientAsync(null)).GetAsync("/api/records")).StatusCode);
    }

    [Fact]
    public async Task A_forged_Mds_Caller_header_does_not_reach_the_audit_record()
    {
        await cluster.EnsureReadyAsync("audited", TestGraphs.Linear([2f], 1f));
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        string viaGateway = "forged-gw-" + Guid.NewGuid().ToString("N");
        using var throughGateway = new HttpRequestMessage(HttpMethod.Post, "/v2/models/audited/infer") { Content = V2Json.Request("x", [1, 1], "FP32", new[] { 4f }) };
        throughGateway.Headers.Add(MdsHeaders.RequestId, viaGateway);
        throughGateway.Headers.Add(MdsHeaders.Caller, "explainer");
        Assert.Equal(HttpStatusCode.OK, (await analyst.SendAsync(throughGateway)).StatusCode);

        using var worker = await cluster.WorkerClientAsync(cluster.Workers[0].Url);
        string direct = "forged-direct-" + Guid.NewGuid().ToString("N");
        using var straight = new HttpRequestMessage(HttpMethod.Post, "/v2/models/audited/infer") { Content = V2Json.Request("x", [1, 1], "FP32", new[] { 4f }) };
        straight.Headers.Add(MdsHeaders.RequestId, direct);
        straight.Headers.Add(MdsHeaders.Caller, "explainer");
        Assert.Equal(HttpStatusCode.OK, (await worker.SendAsync(straight)).StatusCode);

        Assert.Equal(MdsCluster.EmailOf(Roles.Analyst), (await WaitForRecordAsync(analyst, viaGateway)).Caller);
        Assert.Equal(MdsCluster.EmailOf(Roles.Analyst), (await WaitForRecordAsync(analyst, direct)).Caller);
    }

    [Fact]
    public async Task Day_partitions_exist_from_yesterday_to_three_days_ahead()
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString);
        await connection.OpenAsync();
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        foreach (int d in new[] { -1, 0, 1, 2, 3 })
        {
            await using var exists = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname = @n)", connection);
            exists.Parameters.AddWithValue("n", AuditPartitions.PartitionOf(today.AddDays(d)));
            Assert.True((bool)(await exists.ExecuteScalarAsync())!, $"partition for {today.AddDays(d)}");
        }
    }

    [Fact]
    public async Task Records_made_while_the_database_is_away_are_written_when_it_is_back_none_lost_none_doubled()
    {
        var server = new NpgsqlConnectionStringBuilder(cluster.ConnectionString);
        var address = (await Dns.GetHostAddressesAsync(server.Host!)).First(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
        await using var relay = new TcpRelay(new IPEndPoint(address, server.Port));
        var viaRelay = new NpgsqlConnectionStringBuilder(cluster.WorkerConnectionString) { Host = "127.0.0.1", Port = relay.Port, Timeout = 3, CommandTimeout = 5 };
        var worker = await cluster.StartWorkerAsync("audit-outage", "onnx,cpu,auditoutage", settings: new Dictionary<string, string>
        {
            ["Mds__Audit__ConnectionString"] = viaRelay.ConnectionString,
            ["Mds__Audit__FlushInterval"] = "00:00:00.100",
        });
        try
        {
            await cluster.DeployAsync("audit-outage", TestGraphs.Linear([1f], 0f), new Dictionary<string, string> { ["requirements"] = "onnx,auditoutage" });
            using var direct = await cluster.WorkerClientAsync(worker.Url);
            string run = Guid.NewGuid().ToString("N")[..8];
            int sent = 0;
            async Task SendAsync(int count)
            {
                for (int i = 0; i < count; i++, sent++)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/audit-outage/infer") { Content = V2Json.Request("x", [1, 1], "FP32", new[] { (float)sent }) };
                    request.Headers.Add(MdsHeaders.RequestId, $"outage-{run}-{sent}");
                    var response = await direct.SendAsync(request);
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode); // inference goes on whatever the database does
                }
            }

            await SendAsync(100);
            relay.Cut();
            await SendAsync(150);
            await Task.Delay(TimeSpan.FromSeconds(2)); // the writer fails at least once, keeps its batch
            relay.Restore();
            await SendAsync(50);

            using var analyst = await cluster.ClientAsync(Roles.Analyst);
            long stored = 0;
            await Eventually.TrueAsync(async () =>
            {
                stored = await CountAsync($"outage-{run}-%");
                return stored >= 300;
            }, TimeSpan.FromSeconds(60), $"300 records stored (have {stored}); worker:\n{worker.OutputTail}");
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.Equal(300, await CountAsync($"outage-{run}-%"));
            Assert.Equal(300, await CountDistinctAsync($"outage-{run}-%"));
            Assert.Contains("Audit: writing", worker.OutputTail, StringComparison.Ordinal); // the outage was seen and said
        }
        finally
        {
            await cluster.StopWorkerAsync(worker);
        }
    }

    [Fact]
    public async Task A_NUL_in_a_request_id_or_parameter_does_not_stop_the_audit_log()
    {
        await cluster.EnsureReadyAsync("audit-nul", TestGraphs.Linear([1f], 0f));
        using var direct = await cluster.WorkerClientAsync(cluster.Workers[0].Url);
        string run = Guid.NewGuid().ToString("N")[..8];
        async Task SendAsync(string id, bool header)
        {
            // no X-Request-Id: the body's id is the record's request id
            string body = $$"""{"id":{{JsonSerializer.Serialize(id)}},"parameters":{"p":{{JsonSerializer.Serialize("v\0")}}},"inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","data":[1]}]}""";
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/audit-nul/infer") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
            if (header)
            {
                request.Headers.Add(MdsHeaders.RequestId, id);
            }

            Assert.Equal(HttpStatusCode.OK, (await direct.SendAsync(request)).StatusCode);
        }

        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => SendAsync($"nul-{run}-{i}", header: true)));
        await SendAsync($"nul-{run}-bad\0id", header: false);
        await Task.WhenAll(Enumerable.Range(20, 20).Select(i => SendAsync($"nul-{run}-{i}", header: true)));

        long stored = 0;
        await Eventually.TrueAsync(async () =>
        {
            stored = await CountAsync($"nul-{run}-%");
            return stored >= 41;
        }, TimeSpan.FromSeconds(30), $"41 records stored (have {stored}); worker:\n{cluster.Workers[0].OutputTail}");
        Assert.Equal(41, await CountAsync($"nul-{run}-%"));
        Assert.Equal(1, await CountAsync($"nul-{run}-bad\uFFFDid")); // stored, sanitised
        Assert.Equal(41, await ScalarAsync("SELECT count(*) FROM inference_records WHERE \"RequestId\" LIKE @p AND \"Request\"->'parameters'->>'p' = 'v\uFFFD'", $"nul-{run}-%"));
    }

    [Fact]
    public async Task A_record_PostgreSQL_refuses_is_counted_and_logged_and_the_rest_of_its_batch_is_stored()
    {
        await using var postgres = await PrivatePostgres.StartAsync();
        var (audit, counting) = await AuditDatabaseAsync(postgres);
        await using (var connection = new NpgsqlConnection(audit))
        {
            // a rule the writer cannot know: PostgreSQL refuses those rows for their data (23514)
            await connection.OpenAsync();
            await using var check = new NpgsqlCommand("ALTER TABLE inference_records ADD CONSTRAINT no_refused CHECK (\"RequestId\" NOT LIKE '%-refused')", connection);
            await check.ExecuteNonQueryAsync();
        }

        var worker = await cluster.StartWorkerAsync("audit-refuse", "onnx,cpu,auditrefuse", settings: new Dictionary<string, string>
        {
            ["Mds__Audit__ConnectionString"] = audit,
            ["Mds__Audit__FlushInterval"] = "00:00:01",
        });
        try
        {
            await cluster.DeployAsync("audit-refuse", TestGraphs.Linear([1f], 0f), new Dictionary<string, string> { ["requirements"] = "onnx,auditrefuse" });
            using var direct = await cluster.WorkerClientAsync(worker.Url);
            string run = Guid.NewGuid().ToString("N")[..8];
            async Task SendAsync(string id)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/audit-refuse/infer") { Content = V2Json.Request("x", [1, 1], "FP32", new[] { 1f }) };
                request.Headers.Add(MdsHeaders.RequestId, id);
                Assert.Equal(HttpStatusCode.OK, (await direct.SendAsync(request)).StatusCode);
            }

            // one batch: 30 good records around a refused one
            await Task.WhenAll(Enumerable.Range(0, 15).Select(i => SendAsync($"refuse-{run}-{i}")));
            await SendAsync($"refuse-{run}-refused");
            await Task.WhenAll(Enumerable.Range(15, 15).Select(i => SendAsync($"refuse-{run}-{i}")));
            long stored = 0;
            await Eventually.TrueAsync(async () =>
            {
                stored = await ScalarAsync(counting, "SELECT count(*) FROM inference_records WHERE \"RequestId\" LIKE @p", $"refuse-{run}-%");
                return stored >= 30;
            }, TimeSpan.FromSeconds(30), $"30 records stored (have {stored}); worker:\n{worker.OutputTail}");

            // and the log goes on
            await SendAsync($"refuse-{run}-after");
            await Eventually.TrueAsync(async () => await ScalarAsync(counting, "SELECT count(*) FROM inference_records WHERE \"RequestId\" = @p", $"refuse-{run}-after") == 1, TimeSpan.FromSeconds(30), "the record after");
            Assert.Equal(31, await ScalarAsync(counting, "SELECT count(*) FROM inference_records WHERE \"RequestId\" LIKE @p", $"refuse-{run}-%"));
            var metrics = await PrometheusText.ScrapeAsync(worker.Url);
            Assert.Equal(1, metrics.Sum("mds_audit_records_rejected_total"));
            Assert.Single(worker.OutputTail.Split('\n'), line => line.Contains("refused by PostgreSQL (23514", StringComparison.Ordinal));
            Assert.DoesNotContain("-refused", worker.OutputTail, StringComparison.Ordinal); // logged by id, without its payload
        }
        finally
        {
            await cluster.StopWorkerAsync(worker);
        }
    }

    [Fact]
    public async Task A_request_and_response_stored_as_json_read_back_through_the_records_API_exactly_as_the_worker_wrote_them()
    {
        // The payload columns are json since migration AuditCost (jsonb reordered keys and reparsed numbers): what the
        // records API returns is the text the worker wrote, byte for byte.
        await cluster.EnsureReadyAsync("audited", TestGraphs.Linear([2f], 1f));
        using var analyst = await cluster.ClientAsync(Roles.Analyst);
        string requestId = "exact-" + Guid.NewGuid().ToString("N");
        const string body = """{"id":"i-1","parameters":{"zeta":"last","alpha":1},"inputs":[{"name":"x","shape":[3,1],"datatype":"FP32","data":[0.1,1e-10,16777216]}]}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/audited/infer") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Add(MdsHeaders.RequestId, requestId);
        Assert.Equal(HttpStatusCode.OK, (await analyst.SendAsync(request)).StatusCode);

        var record = await WaitForRecordAsync(analyst, requestId);
        var full = (await analyst.GetFromJsonAsync<InferenceRecordDto>($"/api/records/{record.Id}"))!;
        await using var connection = new NpgsqlConnection(cluster.ConnectionString);
        await connection.OpenAsync();
        await using var stored = new NpgsqlCommand("""SELECT pg_typeof("Request")::text, "Request"::text, "Response"::text FROM inference_records WHERE "RequestId" = @p""", connection);
        stored.Parameters.AddWithValue("p", requestId);
        await using var row = await stored.ExecuteReaderAsync();
        Assert.True(await row.ReadAsync());
        Assert.Equal("json", row.GetString(0));
        Assert.Equal(row.GetString(1), full.Request!.Value.GetRawText());
        Assert.Equal(row.GetString(2), full.Response!.Value.GetRawText());
        // the parameters in the order sent (jsonb would have put "zeta" after "alpha" by key length and name)
        Assert.Equal(["zeta", "alpha"], full.Request.Value.GetProperty("parameters").EnumerateObject().Select(p => p.Name));
        Assert.Equal([0.1f, 1e-10f, 16777216f], full.Request.Value.GetProperty("inputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetSingle()));
        Assert.Equal(3, full.Response!.Value.GetProperty("outputs")[0].GetProperty("data").GetArrayLength());
    }

    [Fact]
    public async Task A_worker_writing_while_the_payload_columns_change_from_jsonb_to_json_loses_no_record()
    {
        // A database still on jsonb (before migration AuditCost, or migrated back down) and the migration run while the
        // worker writes: the worker reads the columns' type in each write and encodes for it; nothing is refused or lost.
        await using var postgres = await PrivatePostgres.StartAsync();
        var (audit, counting) = await AuditDatabaseAsync(postgres);
        async Task AlterAsync(string type)
        {
            await using var connection = new NpgsqlConnection(audit);
            await connection.OpenAsync();
            await using var alter = new NpgsqlCommand($"""ALTER TABLE inference_records ALTER COLUMN "Request" TYPE {type} USING "Request"::{type}, ALTER COLUMN "Response" TYPE {type} USING "Response"::{type}""", connection);
            await alter.ExecuteNonQueryAsync();
        }

        await AlterAsync("jsonb");
        var worker = await cluster.StartWorkerAsync("audit-type", "onnx,cpu,audittype", settings: new Dictionary<string, string>
        {
            ["Mds__Audit__ConnectionString"] = audit,
            ["Mds__Audit__FlushInterval"] = "00:00:00.100",
        });
        try
        {
            await cluster.DeployAsync("audit-type", TestGraphs.Linear([1f], 0f), new Dictionary<string, string> { ["requirements"] = "onnx,audittype" });
            using var direct = await cluster.WorkerClientAsync(worker.Url);
            string run = Guid.NewGuid().ToString("N")[..8];
            int sent = 0;
            async Task SendAsync(int count)
            {
                for (int i = 0; i < count; i++, sent++)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/audit-type/infer") { Content = V2Json.Request("x", [1, 1], "FP32", new[] { (float)sent }) };
                    request.Headers.Add(MdsHeaders.RequestId, $"type-{run}-{sent}");
                    Assert.Equal(HttpStatusCode.OK, (await direct.SendAsync(request)).StatusCode);
                }
            }

            async Task StoredAsync(int expected) => await Eventually.TrueAsync(
                async () => await ScalarAsync(counting, "SELECT count(*) FROM inference_records WHERE \"RequestId\" LIKE @p", $"type-{run}-%") >= expected,
                TimeSpan.FromSeconds(30), $"{expected} records stored; worker:\n{worker.OutputTail}");

            await SendAsync(30);
            await StoredAsync(30);
            var altering = Task.Run(async () =>
            {
                await Task.Delay(50);
                await AlterAsync("json");
            });
            await SendAsync(60);
            await altering;
            await SendAsync(30);
            await StoredAsync(120);
            Assert.Equal(120, await ScalarAsync(counting, "SELECT count(DISTINCT \"RequestId\") FROM inference_records WHERE \"RequestId\" LIKE @p AND (\"Request\"->'inputs'->0->'data'->>0)::real = split_part(\"RequestId\", '-', 3)::real", $"type-{run}-%"));
            Assert.Equal(0, (await PrometheusText.ScrapeAsync(worker.Url)).Sum("mds_audit_records_rejected_total"));
        }
        finally
        {
            await cluster.StopWorkerAsync(worker);
        }
    }

    [Fact]
    public async Task PostgreSQL_stopped_for_15_s_under_load_loses_nothing_and_the_worker_s_audit_memory_stays_bounded()
    {
        // The worker writes its records to a PostgreSQL server of this test's own, which is stopped mid-load.
        await using var postgres = await PrivatePostgres.StartAsync();
        var (audit, counting) = await AuditDatabaseAsync(postgres);
        string spill = Directory.CreateTempSubdirectory("mds-audit-spill-").FullName;
        const long maxBuffer = 4 * 1024 * 1024;
        var worker = await cluster.StartWorkerAsync("audit-restart", "onnx,cpu,auditrestart", settings: new Dictionary<string, string>
        {
            ["Mds__Audit__ConnectionString"] = audit,
            ["Mds__Audit__FlushInterval"] = "00:00:00.100",
            ["Mds__Audit__MaxBufferBytes"] = maxBuffer.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Mds__Audit__SpillDirectory"] = spill,
            ["Mds__Audit__SpillAfter"] = "00:00:02",
        });
        try
        {
            await cluster.DeployAsync("audit-restart", TestGraphs.Linear([1f], 0f), new Dictionary<string, string> { ["requirements"] = "onnx,auditrestart" });
            using var direct = await cluster.WorkerClientAsync(worker.Url);
            string run = Guid.NewGuid().ToString("N")[..8];
            int sent = 0;
            using var stop = new CancellationTokenSource();
            var load = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/audit-restart/infer") { Content = V2Json.Request("x", [1, 1], "FP32", new[] { (float)sent }) };
                    request.Headers.Add(MdsHeaders.RequestId, $"restart-{run}-{sent}");
                    var response = await direct.SendAsync(request);
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode); // inference goes on while the database is away
                    Interlocked.Increment(ref sent);
                    await Task.Delay(2);
                }
            });

            await Eventually.TrueAsync(() => Task.FromResult(Volatile.Read(ref sent) >= 100), TimeSpan.FromSeconds(60), "100 requests before the outage");
            await postgres.StopServerAsync();
            int atStop = Volatile.Read(ref sent);
            double bufferPeak = 0, workingSetPeak = 0;
            var outage = System.Diagnostics.Stopwatch.StartNew();
            while (outage.Elapsed < TimeSpan.FromSeconds(15))
            {
                var metrics = await PrometheusText.ScrapeAsync(worker.Url);
                bufferPeak = Math.Max(bufferPeak, metrics.Sum("mds_audit_buffer_bytes"));
                workingSetPeak = Math.Max(workingSetPeak, metrics.Sum("mds_worker_working_set_bytes"));
                await Task.Delay(500);
            }

            int duringOutage = Volatile.Read(ref sent) - atStop;
            var spilled = await PrometheusText.ScrapeAsync(worker.Url);
            await postgres.StartServerAsync();
            int afterRestart = Volatile.Read(ref sent);
            await Eventually.TrueAsync(() => Task.FromResult(Volatile.Read(ref sent) >= afterRestart + 100), TimeSpan.FromSeconds(60), "100 requests after it");
            await stop.CancelAsync();
            await load;
            Assert.True(duringOutage > 500, $"requests went on while the server was down ({duringOutage} in 15 s)");
            Assert.True(spilled.Sum("mds_audit_records_spilled_total") > 0, "records were spilled during the outage");
            Assert.True(bufferPeak <= maxBuffer, $"audit buffer peaked at {bufferPeak} bytes (bound {maxBuffer})");
            Assert.True(workingSetPeak < 1024.0 * 1024 * 1024, $"worker working set peaked at {workingSetPeak / 1024 / 1024:F0} MiB");

            long stored = 0;
            await Eventually.TrueAsync(async () =>
            {
                stored = await ScalarAsync(counting, "SELECT count(*) FROM inference_records WHERE \"RequestId\" LIKE @p", $"restart-{run}-%");
                return stored >= sent;
            }, TimeSpan.FromSeconds(60), $"{sent} records stored (have {stored}); worker:\n{worker.OutputTail}");
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.Equal(sent, await ScalarAsync(counting, "SELECT count(*) FROM inference_records WHERE \"RequestId\" LIKE @p", $"restart-{run}-%"));
            Assert.Equal(sent, await ScalarAsync(counting, "SELECT count(DISTINCT \"RequestId\") FROM inference_records WHERE \"RequestId\" LIKE @p", $"restart-{run}-%"));
            await Eventually.TrueAsync(() => Task.FromResult(Directory.GetFiles(spill, "*.spill").Length == 0), TimeSpan.FromSeconds(10), "spill files deleted once replayed");
        }
        finally
        {
            await cluster.StopWorkerAsync(worker);
            Directory.Delete(spill, recursive: true);
        }
    }

    [Fact]
    public async Task A_worker_killed_during_an_outage_loses_nothing_it_spilled()
    {
        await using var postgres = await PrivatePostgres.StartAsync();
        var (audit, counting) = await AuditDatabaseAsync(postgres);
        string spill = Directory.CreateTempSubdirectory("mds-audit-spill-").FullName;
        var settings = new Dictionary<string, string>
        {
            ["Mds__Audit__ConnectionString"] = audit,
            ["Mds__Audit__FlushInterval"] = "00:00:00.100",
            ["Mds__Audit__SpillDirectory"] = spill,
            ["Mds__Audit__SpillAfter"] = "00:00:01",
        };
        var worker = await cluster.StartWorkerAsync("audit-kill", "onnx,cpu,auditkill", settings: settings);
        try
        {
            await cluster.DeployAsync("audit-kill", TestGraphs.Linear([1f], 0f), new Dictionary<string, string> { ["requirements"] = "onnx,auditkill" });
            using var direct = await cluster.WorkerClientAsync(worker.Url);
            string run = Guid.NewGuid().ToString("N")[..8];
            await postgres.StopServerAsync();
            for (int i = 0; i < 200; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/audit-kill/infer") { Content = V2Json.Request("x", [1, 1], "FP32", new[] { (float)i }) };
                request.Headers.Add(MdsHeaders.RequestId, $"kill-{run}-{i}");
                Assert.Equal(HttpStatusCode.OK, (await direct.SendAsync(request)).StatusCode);
            }

            double spilled = 0;
            await Eventually.TrueAsync(async () =>
            {
                spilled = (await PrometheusText.ScrapeAsync(worker.Url)).Sum("mds_audit_records_spilled_total");
                return spilled >= 200;
            }, TimeSpan.FromSeconds(60), $"200 records spilled (have {spilled}); worker:\n{worker.OutputTail}");

            worker.Kill(); // SIGKILL: no shutdown, no last write
            await cluster.StopWorkerAsync(worker);
            Assert.NotEmpty(Directory.GetFiles(spill, "*.spill"));
            await postgres.StartServerAsync();
            worker = await cluster.StartWorkerAsync("audit-kill", "onnx,cpu,auditkill", settings: settings);

            long stored = 0;
            await Eventually.TrueAsync(async () =>
            {
                stored = await ScalarAsync(counting, "SELECT count(*) FROM inference_records WHERE \"RequestId\" LIKE @p", $"kill-{run}-%");
                return stored >= 200;
            }, TimeSpan.FromSeconds(60), $"200 records stored (have {stored}); worker:\n{worker.OutputTail}");
            Assert.Equal(200, await ScalarAsync(counting, "SELECT count(DISTINCT \"RequestId\") FROM inference_records WHERE \"RequestId\" LIKE @p", $"kill-{run}-%"));
            Assert.Equal(200, await ScalarAsync(counting, "SELECT count(*) FROM inference_records WHERE \"RequestId\" LIKE @p", $"kill-{run}-%"));
            await Eventually.TrueAsync(() => Task.FromResult(Directory.GetFiles(spill, "*.spill").Length == 0), TimeSpan.FromSeconds(10), "spill files deleted once replayed");
        }
        finally
        {
            await cluster.StopWorkerAsync(worker);
            Directory.Delete(spill, recursive: true);
        }
    }

    /// <summary>A database <c>mds_audit</c> on <paramref name="postgres"/>, migrated: its connection string, and one without pooling for counting across restarts.</summary>
    private static async Task<(string Audit, string Counting)> AuditDatabaseAsync(PrivatePostgres postgres)
    {
        await using (var create = new NpgsqlConnection(postgres.ConnectionString))
        {
            await create.OpenAsync();
            await using var command = new NpgsqlCommand("CREATE DATABASE mds_audit", create);
            await command.ExecuteNonQueryAsync();
        }

        string audit = new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { Database = "mds_audit", Timeout = 3, CommandTimeout = 5 }.ConnectionString;
        string counting = new NpgsqlConnectionStringBuilder(audit) { Pooling = false }.ConnectionString; // no connection from before the restart
        await Mds.Migrations.Migrator.MigrateAsync(audit);
        return (audit, counting);
    }

    private async Task<long> CountAsync(string pattern) => await ScalarAsync("SELECT count(*) FROM inference_records WHERE \"RequestId\" LIKE @p", pattern);

    private async Task<long> CountDistinctAsync(string pattern) => await ScalarAsync("SELECT count(DISTINCT \"RequestId\") FROM inference_records WHERE \"RequestId\" LIKE @p", pattern);

    private Task<long> ScalarAsync(string sql, string pattern) => ScalarAsync(cluster.ConnectionString, sql, pattern);

    private static async Task<long> ScalarAsync(string connectionString, string sql, string pattern)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("p", pattern);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<InferenceRecordSummaryDto> WaitForRecordAsync(HttpClient client, string requestId)
    {
        InferenceRecordSummaryDto? found = null;
        await Eventually.TrueAsync(async () =>
        {
            var page = await client.GetFromJsonAsync<InferenceRecordPageDto>($"/api/records?requestId={requestId}");
            found = page!.Records.FirstOrDefault();
            return found is not null;
        }, TimeSpan.FromSeconds(30), $"the record of {requestId}");
        return found!;
    }
}
