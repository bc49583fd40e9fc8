using System.Globalization;

namespace Mds.Bench;

/// <summary>
/// The <c>audit</c> benchmark's command line: <c>--database CONN [--seconds N] [--rounds N] [--concurrency 8,64]</c>.
/// <c>--database</c> is a server-level Npgsql connection string (no database); <c>MDS_BENCH_DATABASE_URL</c> may give it instead.
/// </summary>
internal sealed record AuditBenchOptions(string ServerConnectionString, TimeSpan PhaseDuration, int Rounds, int[] Concurrency)
{
    public static AuditBenchOptions? Parse(string[] args, string defaultConcurrency = "8,64", int defaultSeconds = 10, int defaultRounds = 3)
    {
        string? database = Value(args, "--database") ?? Environment.GetEnvironmentVariable("MDS_BENCH_DATABASE_URL");
        if (string.IsNullOrWhiteSpace(database))
        {
            Console.Error.WriteLine("--database is required: a PostgreSQL server connection string, e.g. \"Host=127.0.0.1;Port=5432;Username=postgres\"");
            return null;
        }

        int seconds = int.Parse(Value(args, "--seconds") ?? defaultSeconds.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Value(args, "--rounds") ?? defaultRounds.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        int[] concurrency = (Value(args, "--concurrency") ?? defaultConcurrency)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(c => Math.Max(1, int.Parse(c, CultureInfo.InvariantCulture)))
            .ToArray();
        return new AuditBenchOptions(database, TimeSpan.FromSeconds(Math.Max(1, seconds)), Math.Max(1, rounds), concurrency);
    }

    /// <summary>The value after <paramref name="name"/> on the command line, or null.</summary>
    public static string? Value(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
