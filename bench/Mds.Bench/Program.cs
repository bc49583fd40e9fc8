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
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet run -c Release --project bench/Mds.Bench -- planner
               dotnet run -c Release --project bench/Mds.Bench -- ready --api URL --token TOKEN [--count N]
               dotnet run -c Release --project bench/Mds.Bench -- audit --database "Host=…;Port=…;Username=…" [--seconds 10] [--rounds 3] [--concurrency 8,64]
                 (needs the Release build of the solution: it starts the backend and two workers)
        """);
    return 2;
}
