namespace Mds.Onnx;

/// <summary>
/// Facts read from an ONNX file's bytes (not through ONNX Runtime): the external-data files its tensors reference.
/// Stand-in until the serving branch's fuller reader lands under the same name; callers use only
/// <see cref="ExternalDataFiles"/>.
/// </summary>
/// <param name="ExternalDataFiles">
/// Every distinct <c>location</c> an external tensor names (initializers, sparse initializers, tensor attributes,
/// subgraphs), as written in the file, in order of first appearance; relative to the model's directory by the ONNX spec.
/// </param>
public sealed record OnnxFileFacts(IReadOnlyList<string> ExternalDataFiles)
{
    /// <summary>Reads the file as it streams (a model with gigabytes of inline weights is skipped over, not loaded).</summary>
    /// <exception cref="InvalidOnnxModelException">The bytes are not protobuf as ONNX writes it.</exception>
    public static OnnxFileFacts Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        var reader = new ProtoReader(stream);
        var locations = new List<string>();
        try
        {
            reader.Message(stream.Length, (field, end) =>
            {
                if (field == 7)
                {
                    Graph(reader, end, locations);
                    return true;
                }

                return false;
            });
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidOnnxModelException("the file ends in the middle of a protobuf field", e);
        }

        return new OnnxFileFacts(locations.Distinct(StringComparer.Ordinal).ToList());
    }

    // GraphProto: node = 1, initializer = 5, sparse_initializer = 15.
    private static void Graph(ProtoReader r, long end, List<string> locations) => r.Message(end, (field, e) =>
    {
        switch (field)
        {
            case 1: Node(r, e, locations); return true;
            case 5: Tensor(r, e, locations); return true;
            case 15: Sparse(r, e, locations); return true;
            default: return false;
        }
    });

    // NodeProto: attribute = 5.
    private static void Node(ProtoReader r, long end, List<string> locations) =>
        r.Message(end, (field, e) => field == 5 && Attribute(r, e, locations));

    // AttributeProto: t = 5, g = 6, tensors = 10, graphs = 11, sparse_tensor = 22, sparse_tensors = 23.
    private static bool Attribute(ProtoReader r, long end, List<string> locations)
    {
        r.Message(end, (field, e) =>
        {
            switch (field)
            {
                case 5 or 10: Tensor(r, e, locations); return true;
                case 6 or 11: Graph(r, e, locations); return true;
                case 22 or 23: Sparse(r, e, locations); return true;
                default: return false;
            }
        });
        return true;
    }

    // SparseTensorProto: values = 1, indices = 2.
    private static void Sparse(ProtoReader r, long end, List<string> locations) => r.Message(end, (field, e) =>
    {
        if (field is 1 or 2)
        {
            Tensor(r, e, locations);
            return true;
        }

        return false;
    });

    // TensorProto: external_data = 13 (StringStringEntryProto: key = 1, value = 2).
    private static void Tensor(ProtoReader r, long end, List<string> locations) => r.Message(end, (field, e) =>
    {
        if (field != 13)
        {
            return false;
        }

        string? key = null, value = null;
        r.Message(e, (f, fe) =>
        {
            if (f is 1 or 2)
            {
                string text = r.String(fe);
                (key, value) = f == 1 ? (text, value) : (key, text);
                return true;
            }

            return false;
        });
        if (key == "location" && value is not null)
        {
            locations.Add(value);
        }

        return true;
    });

    /// <summary>Just enough protobuf: tags, varints, length-delimited fields entered or skipped.</summary>
    private sealed class ProtoReader(Stream stream)
    {
        /// <summary>
        /// Reads fields up to <paramref name="end"/>; a length-delimited field goes to <paramref name="onMessage"/>
        /// (field number, its end), which reads it and returns true, or returns false to have it skipped.
        /// </summary>
        public void Message(long end, Func<int, long, bool> onMessage)
        {
            // ONNX's own protobuf limit: a file nesting deeper is hostile, and must not exhaust this thread's stack.
            if (++_depth > MaxDepth)
            {
                throw new InvalidOnnxModelException($"the model nests messages more than {MaxDepth} deep");
            }

            try
            {
                Fields(end, onMessage);
            }
            finally
            {
                _depth--;
            }
        }

        private const int MaxDepth = 100;
        private int _depth;

        private void Fields(long end, Func<int, long, bool> onMessage)
        {
            while (stream.Position < end)
            {
                ulong tag = Varint();
                int field = (int)(tag >> 3);
                switch ((int)(tag & 7))
                {
                    case 0: Varint(); break;
                    case 1: Skip(8); break;
                    case 5: Skip(4); break;
                    case 2:
                        long length = (long)Varint();
                        long fieldEnd = stream.Position + length;
                        if (length < 0 || fieldEnd > end)
                        {
                            throw new InvalidOnnxModelException("a protobuf field runs past its message");
                        }

                        onMessage(field, fieldEnd);
                        stream.Position = fieldEnd; // skipped, or read by the callback: either way go on after it

                        break;
                    default:
                        throw new InvalidOnnxModelException($"protobuf wire type {tag & 7} is not one ONNX uses");
                }
            }
        }

        public string String(long end)
        {
            long length = end - stream.Position;
            if (length > 64 * 1024)
            {
                throw new InvalidOnnxModelException("an external-data entry is longer than 64 KiB");
            }

            var bytes = new byte[length];
            stream.ReadExactly(bytes);
            return System.Text.Encoding.UTF8.GetString(bytes);
        }

        private ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                int b = stream.ReadByte();
                if (b < 0)
                {
                    throw new EndOfStreamException();
                }

                value |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0)
                {
                    return value;
                }
            }

            throw new InvalidOnnxModelException("a protobuf varint is longer than 10 bytes");
        }

        private void Skip(int bytes)
        {
            stream.Position += bytes;
            if (stream.Position > stream.Length)
            {
                throw new EndOfStreamException();
            }
        }
    }
}
