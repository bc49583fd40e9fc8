using System.Text;

namespace Mds.Onnx;

/// <summary>
/// What a model file says about itself that ONNX Runtime's API does not expose: the class labels of ZipMap outputs,
/// doc strings of inputs and outputs, and the files its external data lives in. Read straight from the protobuf
/// wire format, field by field, skipping the weights: a 2 GB file costs a few reads and seeks, not 2 GB of memory.
/// </summary>
/// <param name="Producer">The exporting tool (<c>producer_name</c>, e.g. skl2onnx), if written.</param>
/// <param name="ProducerVersion">Its version (<c>producer_version</c>), if written.</param>
/// <param name="DocString">The model's <c>doc_string</c>, if written.</param>
/// <param name="GraphName">The main graph's name, if written.</param>
/// <param name="MetadataProps">The model's <c>metadata_props</c>, in file order (a later duplicate key wins).</param>
/// <param name="DocStrings">Doc strings of the graph's inputs and outputs that have one, by name.</param>
/// <param name="ZipMapLabels">For each ZipMap node: its output's name and its class labels in column order.</param>
/// <param name="ExternalDataFiles">The distinct <c>location</c>s of initializers stored outside the file, as written.</param>
public sealed record OnnxFileFacts(
    string? Producer,
    string? ProducerVersion,
    string? DocString,
    string? GraphName,
    IReadOnlyDictionary<string, string> MetadataProps,
    IReadOnlyDictionary<string, string> DocStrings,
    IReadOnlyDictionary<string, IReadOnlyList<string>> ZipMapLabels,
    IReadOnlyList<string> ExternalDataFiles)
{
    // Field numbers of onnx.proto3 (ModelProto, GraphProto, NodeProto, AttributeProto, ValueInfoProto, TensorProto).
    private const int ModelProducerName = 2, ModelProducerVersion = 3, ModelDocString = 6, ModelGraph = 7, ModelMetadataProps = 14;
    private const int GraphNode = 1, GraphNameField = 2, GraphInitializer = 5, GraphInput = 11, GraphOutput = 12;
    private const int NodeOutput = 2, NodeOpType = 4, NodeAttribute = 5;
    private const int AttributeName = 1, AttributeInts = 8, AttributeStrings = 9;
    private const int ValueName = 1, ValueDocString = 3;
    private const int TensorExternalData = 13, TensorDataLocation = 14;
    private const int EntryKey = 1, EntryValue = 2;

    // Strings this reader keeps are names and labels; anything longer is not one.
    private const int MaxString = 1 << 20;

    /// <summary>Reads the facts of the model file at <paramref name="path"/>.</summary>
    /// <exception cref="InvalidOnnxModelException">The file is not a well-formed ONNX protobuf.</exception>
    public static OnnxFileFacts Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
        return Read(stream);
    }

    /// <summary>Reads the facts of a model from a seekable stream positioned at its start.</summary>
    /// <exception cref="InvalidOnnxModelException">The bytes are not a well-formed ONNX protobuf.</exception>
    public static OnnxFileFacts Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var facts = new Builder();
        try
        {
            var reader = new WireReader(stream);
            ReadModel(reader, stream.Length, facts);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException or OverflowException or DecoderFallbackException)
        {
            throw new InvalidOnnxModelException("the file is not a well-formed ONNX model: " + e.Message, e);
        }

        return facts.Build();
    }

    private static void ReadModel(WireReader reader, long end, Builder facts)
    {
        while (reader.Position < end)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case ModelProducerName when wire == WireReader.LengthDelimited:
                    facts.Producer = reader.ReadString();
                    break;
                case ModelProducerVersion when wire == WireReader.LengthDelimited:
                    facts.ProducerVersion = reader.ReadString();
                    break;
                case ModelDocString when wire == WireReader.LengthDelimited:
                    facts.DocString = reader.ReadString();
                    break;
                case ModelMetadataProps when wire == WireReader.LengthDelimited:
                    var (key, value) = ReadEntry(reader, reader.EndOfMessage());
                    if (key is not null)
                    {
                        facts.MetadataProps[key] = value ?? "";
                    }

                    break;
                case ModelGraph when wire == WireReader.LengthDelimited:
                    ReadGraph(reader, reader.EndOfMessage(), facts);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }
    }

    private static void ReadGraph(WireReader reader, long end, Builder facts)
    {
        while (reader.Position < end)
        {
            var (field, wire) = reader.ReadTag();
            if (wire != WireReader.LengthDelimited)
            {
                reader.Skip(wire);
                continue;
            }

            switch (field)
            {
                case GraphNode:
                    ReadNode(reader, reader.EndOfMessage(), facts);
                    break;
                case GraphNameField:
                    facts.GraphName = reader.ReadString();
                    break;
                case GraphInitializer:
                    ReadInitializer(reader, reader.EndOfMessage(), facts);
                    break;
                case GraphInput or GraphOutput:
                    ReadValueInfo(reader, reader.EndOfMessage(), facts);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        reader.SeekTo(end);
    }

    private static void ReadNode(WireReader reader, long end, Builder facts)
    {
        string? opType = null;
        var outputs = new List<string>(2);
        List<string>? labels = null;
        while (reader.Position < end)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case NodeOutput when wire == WireReader.LengthDelimited:
                    outputs.Add(reader.ReadString());
                    break;
                case NodeOpType when wire == WireReader.LengthDelimited:
                    opType = reader.ReadString();
                    break;
                case NodeAttribute when wire == WireReader.LengthDelimited:
                    var attribute = ReadLabelsAttribute(reader, reader.EndOfMessage());
                    labels ??= attribute;
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        reader.SeekTo(end);
        if (opType == "ZipMap" && outputs.Count == 1 && labels is not null)
        {
            facts.ZipMapLabels[outputs[0]] = labels;
        }
    }

    /// <summary>The labels of a <c>classlabels_int64s</c> or <c>classlabels_strings</c> attribute; null for any other.</summary>
    private static List<string>? ReadLabelsAttribute(WireReader reader, long end)
    {
        string? name = null;
        var ints = new List<string>();
        var strings = new List<string>();
        while (reader.Position < end)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case AttributeName when wire == WireReader.LengthDelimited:
                    name = reader.ReadString();
                    break;
                case AttributeInts when wire == WireReader.Varint:
                    ints.Add(((long)reader.ReadVarint()).ToString(System.Globalization.CultureInfo.InvariantCulture));
                    break;
                case AttributeInts when wire == WireReader.LengthDelimited:
                    long packedEnd = reader.EndOfMessage();
                    while (reader.Position < packedEnd)
                    {
                        ints.Add(((long)reader.ReadVarint()).ToString(System.Globalization.CultureInfo.InvariantCulture));
                    }

                    break;
                case AttributeStrings when wire == WireReader.LengthDelimited:
                    strings.Add(reader.ReadString());
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        reader.SeekTo(end);
        return name switch
        {
            "classlabels_int64s" => ints,
            "classlabels_strings" => strings,
            _ => null,
        };
    }

    private static void ReadValueInfo(WireReader reader, long end, Builder facts)
    {
        string? name = null, doc = null;
        while (reader.Position < end)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case ValueName when wire == WireReader.LengthDelimited:
                    name = reader.ReadString();
                    break;
                case ValueDocString when wire == WireReader.LengthDelimited:
                    doc = reader.ReadString();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        reader.SeekTo(end);
        if (name is not null && !string.IsNullOrWhiteSpace(doc))
        {
            facts.DocStrings[name] = doc;
        }
    }

    private static void ReadInitializer(WireReader reader, long end, Builder facts)
    {
        bool external = false;
        string? location = null;
        while (reader.Position < end)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case TensorDataLocation when wire == WireReader.Varint:
                    external = reader.ReadVarint() == 1;
                    break;
                case TensorExternalData when wire == WireReader.LengthDelimited:
                    var (key, value) = ReadEntry(reader, reader.EndOfMessage());
                    if (key == "location")
                    {
                        location = value;
                    }

                    break;
                default:
                    reader.Skip(wire); // raw_data and the typed data fields: the weights, never read
                    break;
            }
        }

        reader.SeekTo(end);
        if (external && location is not null && !facts.ExternalDataFiles.Contains(location))
        {
            facts.ExternalDataFiles.Add(location);
        }
    }

    private static (string? Key, string? Value) ReadEntry(WireReader reader, long end)
    {
        string? key = null, value = null;
        while (reader.Position < end)
        {
            var (field, wire) = reader.ReadTag();
            switch (field)
            {
                case EntryKey when wire == WireReader.LengthDelimited:
                    key = reader.ReadString();
                    break;
                case EntryValue when wire == WireReader.LengthDelimited:
                    value = reader.ReadString();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        reader.SeekTo(end);
        return (key, value);
    }

    private sealed class Builder
    {
        public string? Producer { get; set; }
        public string? ProducerVersion { get; set; }
        public string? DocString { get; set; }
        public string? GraphName { get; set; }
        public Dictionary<string, string> MetadataProps { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, string> DocStrings { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, IReadOnlyList<string>> ZipMapLabels { get; } = new(StringComparer.Ordinal);
        public List<string> ExternalDataFiles { get; } = [];

        public OnnxFileFacts Build() => new(
            Empty(Producer), Empty(ProducerVersion), Empty(DocString), Empty(GraphName), MetadataProps, DocStrings, ZipMapLabels, ExternalDataFiles);

        private static string? Empty(string? text) => string.IsNullOrWhiteSpace(text) ? null : text;
    }

    /// <summary>The protobuf wire format over a seekable stream: tags, varints, length-delimited fields, skips.</summary>
    private sealed class WireReader(Stream stream)
    {
        public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, StartGroup = 3, EndGroup = 4, Fixed32 = 5;

        public long Position => stream.Position;

        public (int Field, int Wire) ReadTag()
        {
            ulong tag = ReadVarint();
            int field = (int)(tag >> 3);
            if (field <= 0 || tag >> 3 > int.MaxValue)
            {
                throw new InvalidDataException($"field number {tag >> 3} at byte {stream.Position}");
            }

            return (field, (int)(tag & 7));
        }

        public ulong ReadVarint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                int b = stream.ReadByte();
                if (b < 0)
                {
                    throw new EndOfStreamException("the file ends inside a number");
                }

                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return value;
                }
            }

            throw new InvalidDataException($"a number longer than 10 bytes at byte {stream.Position}");
        }

        /// <summary>Reads a length prefix and answers where that field ends; checked against the stream's length.</summary>
        public long EndOfMessage()
        {
            ulong length = ReadVarint();
            if (length > (ulong)(stream.Length - stream.Position))
            {
                throw new EndOfStreamException($"a field of {length} bytes at byte {stream.Position} runs past the end of the file");
            }

            return stream.Position + (long)length;
        }

        public string ReadString()
        {
            long end = EndOfMessage();
            long length = end - stream.Position;
            if (length > MaxString)
            {
                stream.Position = end;
                return "";
            }

            var bytes = new byte[length];
            stream.ReadExactly(bytes);
            return new UTF8Encoding(false, true).GetString(bytes);
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case Varint:
                    ReadVarint();
                    break;
                case Fixed64:
                    SeekTo(stream.Position + 8);
                    break;
                case Fixed32:
                    SeekTo(stream.Position + 4);
                    break;
                case LengthDelimited:
                    SeekTo(EndOfMessage());
                    break;
                default:
                    throw new InvalidDataException($"wire type {wire} at byte {stream.Position}");
            }
        }

        public void SeekTo(long position)
        {
            if (position > stream.Length)
            {
                throw new EndOfStreamException($"the file ends before byte {position}");
            }

            stream.Position = position;
        }
    }
}
