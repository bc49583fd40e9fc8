namespace Mds.Bench;

internal static class ProtocolsBench
{
    public static Task<int> RunAsync(string[] args, CancellationToken ct) => Task.FromResult(2);
}
