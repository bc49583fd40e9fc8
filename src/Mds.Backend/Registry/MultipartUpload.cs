using Mds.Backend.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Mds.Backend.Registry;

/// <summary>
/// Reads a multipart/form-data upload as it streams: text fields into a dictionary, the one <c>file</c> part into a
/// staged file (hashed while written, stopped at the size limit). The staged file is deleted afterwards unless the
/// handler moved it. Shared by model uploads, inspection and datasets.
/// </summary>
internal static class MultipartUpload
{
    public static Task<TResult> ReceiveAsync<TResult>(
        HttpContext http, ArtifactStore store, long maxBytes,
        Func<Dictionary<string, string>, StagedArtifact?, Task<TResult>> handle,
        Func<ProblemHttpResult, TResult> fail) =>
        ReceiveAsync(http, store, maxBytes, maxDataParts: 0, (fields, staged, _) => handle(fields, staged), fail);

    /// <summary>
    /// As above, and also up to <paramref name="maxDataParts"/> file parts named <c>data</c> (a model's external-data
    /// files, each named by its <c>location</c>: the part's file name as sent, directories included); the file and
    /// the data parts together stop at <paramref name="maxBytes"/>.
    /// </summary>
    public static async Task<TResult> ReceiveAsync<TResult>(
        HttpContext http, ArtifactStore store, long maxBytes, int maxDataParts,
        Func<Dictionary<string, string>, StagedArtifact?, IReadOnlyList<StagedArtifact>, Task<TResult>> handle,
        Func<ProblemHttpResult, TResult> fail)
    {
        // Kestrel's hard cap is twice the limit: up to there an oversized upload is read to the end and answered 413
        // cleanly (clients that are still sending when the server answers see a broken pipe instead of the reason).
        long hardCap = maxBytes * 2 + 1024 * 1024;
        var sizeFeature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = hardCap;
        }

        if (http.Request.ContentLength > hardCap)
        {
            return fail(TooLarge(maxBytes));
        }

        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var contentType)
            || !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            return fail(ApiResults.Bad("Send multipart/form-data with the file in a field named 'file'."));
        }

        string boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value ?? "";
        if (boundary.Length == 0)
        {
            return fail(ApiResults.Bad("The multipart body has no boundary."));
        }

        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        StagedArtifact? staged = null;
        var data = new List<StagedArtifact>();
        long StagedBytes() => (staged?.SizeBytes ?? 0) + data.Sum(d => d.SizeBytes);
        try
        {
            var reader = new MultipartReader(boundary, http.Request.Body);
            MultipartSection? section;
            while ((section = await reader.ReadNextSectionAsync(http.RequestAborted)) is not null)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                string field = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                if (disposition.IsFileDisposition())
                {
                    if (field == "data" && maxDataParts > 0)
                    {
                        if (data.Count >= maxDataParts)
                        {
                            await DiscardRestAsync(http.Request.Body);
                            return fail(ApiResults.Bad($"The upload has more than {maxDataParts} data files."));
                        }

                        // The location as sent, directories included: the caller checks it is confined.
                        var raw = disposition.FileNameStar.HasValue ? disposition.FileNameStar : HeaderUtilities.RemoveQuotes(disposition.FileName);
                        var part = await store.StageAsync(section.Body, maxBytes - StagedBytes(), http.RequestAborted);
                        data.Add(part with { FileName = raw.Value ?? "" });
                        continue;
                    }

                    if (field != "file")
                    {
                        continue; // only one file field is read; others are ignored unread
                    }

                    if (staged is not null)
                    {
                        return fail(ApiResults.Bad("Send exactly one file."));
                    }

                    fields.TryAdd("fileName", HeaderUtilities.RemoveQuotes(disposition.FileName).Value ?? "");
                    staged = await store.StageAsync(section.Body, maxBytes - StagedBytes(), http.RequestAborted);
                    staged = staged with { FileName = FileNameOf(disposition) };
                }
                else
                {
                    if (fields.Count >= MaxFields)
                    {
                        await DiscardRestAsync(http.Request.Body);
                        return fail(ApiResults.Bad($"The upload has more than {MaxFields} fields."));
                    }

                    string? value = await ReadFieldAsync(section.Body, http.RequestAborted);
                    if (value is null)
                    {
                        await DiscardRestAsync(http.Request.Body);
                        return fail(ApiResults.Bad($"Field '{Truncate(field)}' is longer than {MaxFieldChars} characters."));
                    }

                    fields[field] = value;
                }
            }

            return await handle(fields, staged, data);
        }
        catch (ArtifactTooLargeException)
        {
            await DiscardRestAsync(http.Request.Body);
            return fail(TooLarge(maxBytes));
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return fail(TooLarge(maxBytes));
        }
        catch (Exception e) when (e is InvalidDataException or BadHttpRequestException)
        {
            return fail(ApiResults.Bad("The multipart body could not be read: " + e.Message));
        }
        catch (IOException)
        {
            // An I/O error's message may name a file on this server: not for the client.
            return fail(ApiResults.Bad("The multipart body could not be read (the connection broke or the server could not store it)."));
        }
        finally
        {
            foreach (var part in data.Append(staged))
            {
                if (part is not null && File.Exists(part.Path))
                {
                    ArtifactStore.Discard(part);
                }
            }
        }
    }

    /// <summary>The longest text field, in characters.</summary>
    internal const int MaxFieldChars = 4000;

    /// <summary>The most text fields in one upload.</summary>
    internal const int MaxFields = 64;

    /// <summary>
    /// A text field, read while it streams: null as soon as it is longer than <see cref="MaxFieldChars"/> (reading
    /// it whole first let one 120 MB field cost half a gigabyte).
    /// </summary>
    private static async Task<string?> ReadFieldAsync(Stream body, CancellationToken ct)
    {
        using var reader = new StreamReader(body, bufferSize: 4096);
        var buffer = new char[MaxFieldChars + 1];
        int length = 0;
        while (length < buffer.Length)
        {
            int read = await reader.ReadAsync(buffer.AsMemory(length), ct);
            if (read == 0)
            {
                return new string(buffer, 0, length);
            }

            length += read;
        }

        return null;
    }

    private static string Truncate(string text) => text.Length <= 64 ? text : string.Concat(text.AsSpan(0, 64), "...");

    /// <summary>The client's name for the file, without any directory part.</summary>
    private static string? FileNameOf(ContentDispositionHeaderValue disposition)
    {
        var name = disposition.FileNameStar.HasValue ? disposition.FileNameStar : HeaderUtilities.RemoveQuotes(disposition.FileName);
        return name.HasValue ? Path.GetFileName(name.Value) : null;
    }

    private static ProblemHttpResult TooLarge(long maxBytes) =>
        TypedResults.Problem($"The upload is larger than the limit of {maxBytes / (1024.0 * 1024):0.##} MiB.", statusCode: StatusCodes.Status413PayloadTooLarge);

    private static async Task DiscardRestAsync(Stream body)
    {
        try
        {
            await body.CopyToAsync(Stream.Null);
        }
        catch (Exception e) when (e is BadHttpRequestException or IOException or OperationCanceledException)
        {
            // past the hard cap, or the client gave up: the answer goes out anyway
        }
    }
}
