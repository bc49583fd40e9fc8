using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Mds.ServiceDefaults;

/// <summary>Reading a request body whole, bounded in bytes before anything is decoded.</summary>
public static class BoundedBody
{
    /// <summary>
    /// Reads the whole body and decodes it from the pipe's buffers without a copy; <c>default</c> when it is larger
    /// than <paramref name="limit"/> bytes (by its Content-Length, or as it arrives). Kestrel's own limit is raised or
    /// lowered to <paramref name="limit"/> for this request.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="limit">The most bytes to read.</param>
    /// <param name="decode">Turns the complete body into the result; its exceptions reach the caller.</param>
    public static Task<T?> ReadAsync<T>(HttpContext context, long limit, Func<ReadOnlySequence<byte>, T> decode)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(decode);
        return ReadAsync(context, limit, decode, static (body, decode) => decode(body)).AsTask();
    }

    /// <summary>
    /// <see cref="ReadAsync{T}(HttpContext, long, Func{ReadOnlySequence{byte}, T})"/> for hot paths: the decoder gets
    /// <paramref name="state"/> (so a static lambda needs no closure), and a body already received completes without a
    /// task.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="limit">The most bytes to read.</param>
    /// <param name="state">Passed to <paramref name="decode"/>.</param>
    /// <param name="decode">Turns the complete body into the result; its exceptions reach the caller.</param>
    public static async ValueTask<T?> ReadAsync<TState, T>(HttpContext context, long limit, TState state, Func<ReadOnlySequence<byte>, TState, T> decode)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(decode);
        if (context.Request.ContentLength > limit)
        {
            return null;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeLimit)
        {
            sizeLimit.MaxRequestBodySize = limit;
        }

        PipeReader reader = context.Request.BodyReader;
        while (true)
        {
            ReadResult read = await reader.ReadAsync(context.RequestAborted).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = read.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.End);
                return null;
            }

            if (read.IsCompleted)
            {
                try
                {
                    return decode(buffer, state);
                }
                finally
                {
                    reader.AdvanceTo(buffer.End);
                }
            }

            // Leave everything unconsumed so the next read returns the whole body so far.
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
