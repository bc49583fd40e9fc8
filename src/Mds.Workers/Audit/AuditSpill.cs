using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;

namespace Mds.Workers.Audit;

/// <summary>
/// The audit log's spill files: where encoded records go while PostgreSQL is down or slow, and where they are replayed
/// from. A file (<c>audit-*.spill</c>) starts with the 8 bytes <c>MDSAUD02</c>, then one entry per record: its length
/// (uint32, little-endian), the CRC-32C of its bytes (uint32, little-endian) and the bytes (one binary COPY tuple,
/// as <see cref="AuditCopyEncoder"/> writes it). Files written before the experiment tags (<c>MDSAUD01</c>, tuples of
/// 13 fields) are still read: each such tuple gets the three new columns (no experiment, not a mirror) as it is read. Entries are appended and fsynced a group (a batch) at a time; a
/// torn or corrupt entry (a process killed mid-write) ends the file: it and what follows are skipped and logged.
/// Files are replayed oldest first and deleted once every record in them is committed. Not thread-safe: the writer's
/// one loop uses it. The file being appended is held with an exclusive lock, so a second worker sharing the directory
/// does not replay (and delete) it.
/// </summary>
internal sealed partial class AuditSpill : IDisposable
{
    /// <summary>The largest entry read back; anything longer is taken for corruption.</summary>
    public const int MaxEntryBytes = 256 * 1024 * 1024;

    private const int EntryHeaderBytes = 8;

    private static readonly byte[] Magic = "MDSAUD02"u8.ToArray();

    // Before the experiment tags: the same entries, tuples of 13 fields (upgraded as they are read).
    private static readonly byte[] MagicBeforeExperiments = "MDSAUD01"u8.ToArray();

    private readonly string _directory;
    private readonly long _maxBytes;
    private readonly ILogger _logger;

    // Closed files waiting to be replayed, oldest first.
    private readonly List<string> _pending = [];

    // Files another process holds (skipped until our next start).
    private readonly HashSet<string> _locked = new(StringComparer.Ordinal);

    private readonly ArrayBufferWriter<byte> _entries = new(64 * 1024);
    private readonly byte[] _header = new byte[EntryHeaderBytes];

    private FileStream? _active;
    private string? _activePath;
    private long _activeRecords;
    private int _sequence;

    // Replay: the file being read, the position up to which its records are committed, and where the last chunk ended.
    private FileStream? _replay;
    private long _committed;
    private long _chunkEnd;
    private bool _chunkEndsFile;

    public AuditSpill(string directory, long maxBytes, ILogger logger)
    {
        _directory = directory;
        _maxBytes = maxBytes;
        _logger = logger;
        // The files hold request and response tensors: readable by the worker's user only.
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        foreach (string file in Directory.GetFiles(directory, "audit-*.spill").Order(StringComparer.Ordinal))
        {
            _pending.Add(file);
            Bytes += new FileInfo(file).Length;
        }
    }

    /// <summary>The spill files' total size.</summary>
    public long Bytes { get; private set; }

    /// <summary>Whether records wait in spill files (written by this process or found at start-up).</summary>
    public bool HasPending => _pending.Count > _locked.Count || _activeRecords > 0;

    /// <summary>
    /// Appends rows <paramref name="from"/>..<paramref name="to"/> of <paramref name="data"/> (row i ends at
    /// <paramref name="ends"/>[i]) and fsyncs them; returns how many fit under the size bound (the rest are the
    /// caller's to count as dropped). Throws <see cref="IOException"/> (or <see cref="UnauthorizedAccessException"/>)
    /// when the file cannot be written; then nothing of this call counts as spilled.
    /// </summary>
    public int Append(ReadOnlySpan<byte> data, IReadOnlyList<int> ends, int from, int to)
    {
        ArgumentNullException.ThrowIfNull(ends);
        _entries.ResetWrittenCount();
        int count = 0;
        long room = _maxBytes - Bytes - (_active is null ? Magic.Length : 0);
        for (int i = from; i < to; i++)
        {
            var row = Row(data, ends, i);
            if (_entries.WrittenCount + EntryHeaderBytes + row.Length > room)
            {
                break;
            }

            WriteEntry(_entries, row);
            count++;
        }

        if (count == 0)
        {
            return 0;
        }

        if (_active is null)
        {
            _activePath = Path.Combine(_directory, $"audit-{DateTime.UtcNow:yyyyMMddTHHmmssfffffff}-{Environment.ProcessId}-{_sequence++:D4}.spill");
            var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 1 };
            if (!OperatingSystem.IsWindows())
            {
                create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            _active = new FileStream(_activePath, create);
            _active.Write(Magic);
            Bytes += Magic.Length;
        }

        long before = _active.Position;
        try
        {
            _active.Write(_entries.WrittenSpan);
            _active.Flush(flushToDisk: true);
        }
        catch (IOException)
        {
            // leave no half group behind: what was not fsynced is not counted, and a later append starts cleanly
            _active.SetLength(before);
            throw;
        }

        Bytes += _entries.WrittenCount;
        _activeRecords += count;
        return count;
    }

    /// <summary>
    /// Reads the next records to replay (at most <paramref name="maxRows"/>, and stopping past
    /// <paramref name="maxBytes"/>) into <paramref name="data"/>/<paramref name="ends"/> (both cleared first); returns
    /// false when nothing is pending. Zero rows may come back (an empty or torn file): call <see cref="Commit"/> all
    /// the same. The file being appended is closed first, so it is replayed too.
    /// </summary>
    public bool ReadChunk(ArrayBufferWriter<byte> data, List<int> ends, int maxRows, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(ends);
        data.ResetWrittenCount();
        ends.Clear();
        while (_replay is null)
        {
            if (_pending.Count == _locked.Count && _activeRecords > 0)
            {
                CloseActive();
            }

            string? next = _pending.FirstOrDefault(p => !_locked.Contains(p));
            if (next is null)
            {
                return false;
            }

            try
            {
                _replay = new FileStream(next, FileMode.Open, FileAccess.Read, FileShare.None, 64 * 1024);
            }
            catch (IOException e) when (File.Exists(next))
            {
                _locked.Add(next); // another live process appends to it
                LogLocked(next, e.Message);
                continue;
            }
            catch (IOException)
            {
                Forget(next, 0); // gone (replayed by another process)
                continue;
            }

            _committed = 0;
            Span<byte> magic = _header;
            if (_replay.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false) < magic.Length || !(magic.SequenceEqual(Magic) || magic.SequenceEqual(MagicBeforeExperiments)))
            {
                long length = _replay.Length;
                _replay.Dispose();
                _replay = null;
                if (length == 0)
                {
                    File.Delete(next); // created, killed before the first write
                    Forget(next, 0);
                    continue;
                }

                string aside = next + ".corrupt";
                File.Move(next, aside, overwrite: true);
                LogCorrupt(next, length, aside);
                Forget(next, length);
                continue;
            }

            _committed = magic.Length;
        }

        _replay.Position = _committed;
        long position = _committed;
        Span<byte> header = _header;
        _chunkEndsFile = false;
        while (ends.Count < maxRows && data.WrittenCount < maxBytes)
        {
            int got = _replay.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            if (got == 0)
            {
                _chunkEndsFile = true;
                break;
            }

            int length = got == header.Length ? BinaryPrimitives.ReadInt32LittleEndian(header) : -1;
            uint crc = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            if (length <= 0 || length > MaxEntryBytes || length > _replay.Length - position - header.Length)
            {
                LogTorn(_replay.Name, position, _replay.Length - position);
                _chunkEndsFile = true;
                break;
            }

            var span = data.GetSpan(length)[..length];
            _replay.ReadExactly(span);
            if (Crc(span) != crc)
            {
                LogTorn(_replay.Name, position, _replay.Length - position);
                _chunkEndsFile = true;
                break;
            }

            data.Advance(length);
            AuditCopyEncoder.Upgrade(data, length); // a tuple from before the experiment tags gets their columns
            ends.Add(data.WrittenCount);
            position += header.Length + length;
        }

        _chunkEnd = position;
        return true;
    }

    /// <summary>The chunk last read is in the database: move past it; delete the file when it was the file's end.</summary>
    public void Commit()
    {
        if (_replay is null)
        {
            return;
        }

        _committed = _chunkEnd;
        if (_chunkEndsFile)
        {
            string path = _replay.Name;
            long length = _replay.Length;
            _replay.Dispose();
            _replay = null;
            File.Delete(path);
            Forget(path, length);
        }
    }

    /// <summary>Closes the file being appended (it is replayed like the others).</summary>
    public void CloseActive()
    {
        if (_active is null)
        {
            return;
        }

        _active.Dispose();
        _active = null;
        _pending.Add(_activePath!);
        _activeRecords = 0;
    }

    public void Dispose()
    {
        _active?.Dispose();
        _replay?.Dispose();
    }

    /// <summary>Row <paramref name="i"/> of rows laid end to end in <paramref name="data"/>.</summary>
    public static ReadOnlySpan<byte> Row(ReadOnlySpan<byte> data, IReadOnlyList<int> ends, int i)
    {
        ArgumentNullException.ThrowIfNull(ends);
        int start = i == 0 ? 0 : ends[i - 1];
        return data[start..ends[i]];
    }

    /// <summary>One entry: length, CRC-32C, bytes.</summary>
    public static void WriteEntry(IBufferWriter<byte> destination, ReadOnlySpan<byte> row)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var span = destination.GetSpan(EntryHeaderBytes + row.Length);
        BinaryPrimitives.WriteInt32LittleEndian(span, row.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Crc(row));
        row.CopyTo(span[EntryHeaderBytes..]);
        destination.Advance(EntryHeaderBytes + row.Length);
    }

    /// <summary>The file header every spill file starts with.</summary>
    public static ReadOnlySpan<byte> FileHeader => Magic;

    /// <summary>CRC-32C (Castagnoli), hardware-accelerated where the CPU has it.</summary>
    public static uint Crc(ReadOnlySpan<byte> bytes)
    {
        uint crc = 0xFFFFFFFF;
        while (bytes.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(bytes));
            bytes = bytes[8..];
        }

        foreach (byte b in bytes)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }

    private void Forget(string path, long length)
    {
        _pending.Remove(path);
        Bytes = Math.Max(0, Bytes - length);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit spill file {Path}: a torn or corrupt entry at byte {Position}; the last {Skipped} bytes are skipped (a process stopped mid-write)")]
    private partial void LogTorn(string path, long position, long skipped);

    [LoggerMessage(Level = LogLevel.Error, Message = "Audit spill file {Path} ({Bytes} bytes) is not a spill file; moved to {Aside}")]
    private partial void LogCorrupt(string path, long bytes, string aside);

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit spill file {Path} is held by another process; not replayed by this one ({Reason})")]
    private partial void LogLocked(string path, string reason);
}
