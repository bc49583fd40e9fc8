using System.Runtime.InteropServices;

namespace Mds.Bench;

/// <summary>One line about the machine, printed with the figures: the development VM is shared, and load moves them.</summary>
internal static class Machine
{
    /// <summary>"load average a b c" (empty where /proc/loadavg is missing): printed per phase, so a noisy phase shows.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? $"load average {string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3))}" : "";

    public static string Describe()
    {
        const string LoadAverage = "/proc/loadavg";
        string load = File.Exists(LoadAverage)
            ? $", load average {string.Join(' ', File.ReadAllText(LoadAverage).Split(' ').Take(3))}"
            : "";
        return $"machine: {Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}{load}";
    }
}
