namespace Mds.Cli;

/// <summary>A failure to report in words (exit code 1).</summary>
internal class CliException(string message) : Exception(message)
{
    public virtual int ExitCode => ExitCodes.Failure;
}

/// <summary>The command line itself is wrong (exit code 2).</summary>
internal sealed class UsageException(string message) : CliException(message)
{
    public override int ExitCode => ExitCodes.Usage;
}

/// <summary>The backend answered with an error status.</summary>
internal sealed class ApiException(int status, string message) : CliException(message)
{
    public int Status { get; } = status;
}

internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 2;
}
