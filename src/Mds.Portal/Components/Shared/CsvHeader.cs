using System.Text;
using Mds.Portal.Components.Pages.Try;
using Microsoft.AspNetCore.Components.Forms;

namespace Mds.Portal.Components.Shared;

/// <summary>The header row of a CSV file chosen in the browser, read before the file is sent anywhere.</summary>
public static class CsvHeader
{
    private const int HeadBytes = 64 * 1024;

    /// <summary>
    /// The column names on the first line of <paramref name="file"/>'s first 64 KiB (<see cref="BatchReader.Header"/>:
    /// quotes and a byte-order mark removed); the pages offer them as label columns and check them against the model.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ReadAsync(IBrowserFile file, long maxBytes)
    {
        ArgumentNullException.ThrowIfNull(file);
        await using var stream = file.OpenReadStream(maxBytes);
        byte[] buffer = new byte[Math.Min(HeadBytes, file.Size)];
        int read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false);
        return BatchReader.Header(Encoding.UTF8.GetString(buffer, 0, read));
    }
}
