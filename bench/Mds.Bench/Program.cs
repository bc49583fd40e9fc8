using Mds.Bench;

// Benchmarks print their figures next to a baseline measured in the same run; results go into docs/benchmarks.md.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

return args.FirstOrDefault() switch
{
    "planner" => PlannerScaling.Run(),
    "ready" => await UploadToReady.RunAsync(args[1..], cancel.Token),
    "audit" => await AuditOverhead.RunAsync(args[1..], cancel.Token),
    "serving" => await ServingBench.RunAsync(args[1..], cancel.Token),
    "batching" => await BatchingBench.RunAsync(args[1..], cancel.Token),
    "density" => await DensityBench.RunAsync(args[1..], cancel.Token),
    "protocols" => await ProtocolsBench.RunAsync(args[1..], cancel.Token),
    "pipelines" => await PipelinesBench.RunAsync(args[1..], cancel.Token),
    "experiments" => await ExperimentsBench.RunAsync(args[1..], cancel.Token),
    "streams" => await StreamsBench.RunAsync(args[1..], cancel.Token),
    "autoscale" => await AutoscaleBench.RunAsync(args[1..], cancel.Token),
    "audit-outage" => await AuditOutageBench.RunAsync(args[1..], cancel.Token),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet run -c Release --project bench/Mds.Bench -- planner
               dotnet run -c Release --project bench/Mds.Bench -- ready --api URL --token TOKEN [--count N]
               dotnet run -c Release --project bench/Mds.Bench -- audit --database "Host=…;Port=…;Username=…" [--seconds 10] [--rounds 3] [--concurrency 8,64]
               dotnet run -c Release --project bench/Mds.Bench -- serving --database "Host=…;Port=…;Username=…" [--seconds 10] [--rounds 3] [--concurrency 1,8,64]
               dotnet run -c Release --project bench/Mds.Bench -- batching --database "Host=…;Port=…;Username=…" [--seconds 10] [--rounds 3] [--concurrency 1,8,64] [--latency-us 500] [--models iris,mlp,mlp-wide]
               dotnet run -c Release --project bench/Mds.Bench -- density --database "Host=…;Port=…;Username=…" [--models 100] [--baseline-workers 10] [--batch 5] [--settle-seconds 3]
               dotnet run -c Release --project bench/Mds.Bench -- protocols --database "Host=…;Port=…;Username=…" [--seconds 5] [--rounds 2] [--concurrency 1,8,64]
               dotnet run -c Release --project bench/Mds.Bench -- pipelines --database "Host=…;Port=…;Username=…" [--seconds 5] [--rounds 2] [--concurrency 1,8,64]
               dotnet run -c Release --project bench/Mds.Bench -- experiments --database "Host=…;Port=…;Username=…" [--seconds 5] [--rounds 2] [--concurrency 1,8,64]
               dotnet run -c Release --project bench/Mds.Bench -- streams --database "Host=…;Port=…;Username=…" [--seconds 10] [--rounds 2] [--concurrency 64] [--messages 100000] [--waiting 1000000] [--drain-seconds 30] [--nats-port N] [--stream-setting MaxInFlight=256 …]
               dotnet run -c Release --project bench/Mds.Bench -- autoscale --database "Host=…;Port=…;Username=…" [--seconds 60] [--callers 16] [--rows 256] [--baseline-worker PATH/Mds.Workers.dll]
               dotnet run -c Release --project bench/Mds.Bench -- audit-outage [--outage 60] [--baseline 20] [--clients 4] [--gateway-clients 2] [--kill-after 2000] [--buffer-mib 64] [--spill-after 5] [--port N]
                 (audit-outage starts a PostgreSQL server of its own, on --port or a free one, and stops it: it needs ./mds's PostgreSQL binaries)
                 (audit, serving, batching, density, protocols, pipelines, experiments and streams need the Release build of the solution: they start the backend, workers and the baseline; streams also a nats-server)
        """);
    return 2;
}
