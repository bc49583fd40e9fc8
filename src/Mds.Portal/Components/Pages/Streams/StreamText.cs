using System.Globalization;
using Mds.Contracts.Api;
using MudBlazor;

namespace Mds.Portal.Components.Pages.Streams;

/// <summary>How the stream pages word and colour a stream: its address in the portal, its state, its counters, and the question asked before disabling.</summary>
public static class StreamText
{
    /// <summary>How often the stream pages and cards reload.</summary>
    public static TimeSpan RefreshInterval { get; } = TimeSpan.FromSeconds(3);

    /// <summary>The stream's detail page: <c>streams/{kind}/{name}</c>.</summary>
    public static string Href(string kind, string name) => $"streams/{Uri.EscapeDataString(kind)}/{Uri.EscapeDataString(name)}";

    /// <summary>The model's or pipeline's own page.</summary>
    public static string ResourceHref(string kind, string name) => $"{(kind == "pipelines" ? "pipelines" : "models")}/{Uri.EscapeDataString(name)}";

    /// <summary><c>model</c> or <c>pipeline</c>.</summary>
    public static string Noun(string kind) => kind == "pipelines" ? "pipeline" : "model";

    /// <summary>Green when running, amber when waiting, grey when disabled.</summary>
    public static Color ColorOf(string state) => state switch
    {
        StreamStates.Running => Color.Success,
        StreamStates.Waiting => Color.Warning,
        _ => Color.Default,
    };

    /// <summary>The state's icon.</summary>
    public static string IconOf(string state) => state switch
    {
        StreamStates.Running => Icons.Material.Filled.PlayCircle,
        StreamStates.Waiting => Icons.Material.Filled.HourglassTop,
        _ => Icons.Material.Filled.PauseCircle,
    };

    /// <summary>A count, grouped by thousands.</summary>
    public static string Count(long n) => n.ToString("#,0", CultureInfo.InvariantCulture);

    /// <summary>A rate per second: one decimal under 100, none above.</summary>
    public static string Rate(double perSecond) => perSecond switch
    {
        <= 0 or double.NaN => "0/s",
        < 100 => perSecond.ToString("0.#", CultureInfo.InvariantCulture) + "/s",
        _ => perSecond.ToString("#,0", CultureInfo.InvariantCulture) + "/s",
    };

    /// <summary>
    /// Asks before disabling a stream: null when cancelled; false to stop consuming and keep the engine's streams and
    /// their messages; true to delete them as well (<c>cleanOnDisable</c>).
    /// </summary>
    public static async Task<bool?> AskDisableAsync(IDialogService dialogs, string kind, string name)
    {
        ArgumentNullException.ThrowIfNull(dialogs);
        bool? answer = await dialogs.ShowMessageBoxAsync(
            $"Disable the stream of {Noun(kind)} {name}?",
            "MDS stops consuming its input subject. Keep the messages: what is waiting stays in the engine and is consumed when the stream is enabled again. "
            + "Delete the messages (cleanOnDisable): the engine's input and output streams (Kafka topics) are deleted with every message in them; errors stay.",
            yesText: "Disable, keep messages", noText: "Disable and delete messages", cancelText: "Cancel");
        return answer switch
        {
            true => false,
            false => true,
            null => null,
        };
    }
}
