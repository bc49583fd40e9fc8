using Mds.Portal.Api;
using Microsoft.AspNetCore.Components.Forms;

namespace Mds.Portal.Components.Shared;

/// <summary>
/// A browser file on its way to the backend and how much of it has been sent, for a progress bar: the file is
/// streamed through the circuit as it is sent (never read whole into memory), and the page re-renders at most ten
/// times a second while it goes, and once more when the last byte is out.
/// </summary>
/// <param name="render">Re-renders the page (a component passes <c>() =&gt; InvokeAsync(StateHasChanged)</c>).</param>
public sealed class UploadProgress(Func<Task> render)
{
    private static readonly TimeSpan RenderInterval = TimeSpan.FromMilliseconds(100);
    private DateTime _lastRender;

    /// <summary>Bytes sent so far of the current upload.</summary>
    public long Sent { get; private set; }

    /// <summary>The current upload's size in bytes.</summary>
    public long Size { get; private set; }

    /// <summary>How much has been sent, 0 to 100.</summary>
    public double Percent => Size > 0 ? Math.Min(100, 100.0 * Sent / Size) : 0;

    /// <summary>True once every byte has been sent (the backend may still be reading it).</summary>
    public bool Done => Size > 0 && Sent >= Size;

    /// <summary>
    /// Starts counting a new upload of <paramref name="file"/> (read up to <paramref name="maxBytes"/>): the file to
    /// hand to a typed client, and the progress that client reports to.
    /// </summary>
    public (UploadFile File, IProgress<long> Progress) Start(IBrowserFile file, long maxBytes)
    {
        ArgumentNullException.ThrowIfNull(file);
        (Sent, Size) = (0, file.Size);
        return (new UploadFile(file.Name, file.Size, () => file.OpenReadStream(maxBytes)), new Progress<long>(Report));
    }

    // Progress from the upload's sending loop: kept, and shown at most ten times a second.
    private void Report(long sent)
    {
        Sent = sent;
        var now = DateTime.UtcNow;
        if (now - _lastRender > RenderInterval || Done)
        {
            _lastRender = now;
            _ = render();
        }
    }
}
