using System.Buffers;
using System.Text;
using Mds.Workers.Audit;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mds.UnitTests.Audit;

/// <summary>The audit spill files: what a worker appends while PostgreSQL is away comes back, in order, once.</summary>
public sealed class AuditSpillTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("mds-spill-test-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Appended_records_are_read_back_in_order_and_the_file_is_deleted_once_committed()
    {
        using (var spill = new AuditSpill(_directory, 1 << 20, NullLogger.Instance))
        {
            Append(spill, "a", "bb", "ccc");
            Append(spill, "dddd");
            Assert.True(spill.HasPending);
            Assert.Equal(["a", "bb", "ccc", "dddd"], ReadAll(spill));
            Assert.False(spill.HasPending);
            Assert.Equal(0, spill.Bytes);
        }

        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Fact]
    public void Records_spilled_by_a_process_that_died_are_found_at_start_up_oldest_file_first()
    {
        using (var first = new AuditSpill(_directory, 1 << 20, NullLogger.Instance))
        {
            Append(first, "1", "2");
        }

        Thread.Sleep(2);
        using (var second = new AuditSpill(_directory, 1 << 20, NullLogger.Instance))
        {
            Append(second, "3");
            second.CloseActive();
            Append(second, "4");
        }

        using var restarted = new AuditSpill(_directory, 1 << 20, NullLogger.Instance);
        Assert.True(restarted.HasPending);
        Assert.True(restarted.Bytes > 0);
        Assert.Equal(["1", "2", "3", "4"], ReadAll(restarted));
        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Theory]
    [InlineData(1)] // killed in the length
    [InlineData(6)] // in the checksum
    [InlineData(10)] // in the record's bytes
    public void A_torn_tail_from_a_killed_process_is_detected_and_skipped_the_whole_records_before_it_kept(int tornAt)
    {
        using (var spill = new AuditSpill(_directory, 1 << 20, NullLogger.Instance))
        {
            Append(spill, "first", "second");
        }

        string file = Assert.Single(Directory.GetFiles(_directory));
        var entry = new ArrayBufferWriter<byte>();
        AuditSpill.WriteEntry(entry, "third record"u8);
        using (var stream = new FileStream(file, FileMode.Append))
        {
            stream.Write(entry.WrittenSpan[..tornAt]);
        }

        using var restarted = new AuditSpill(_directory, 1 << 20, NullLogger.Instance);
        Assert.Equal(["first", "second"], ReadAll(restarted));
        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Fact]
    public void A_record_whose_checksum_does_not_match_ends_the_file()
    {
        using (var spill = new AuditSpill(_directory, 1 << 20, NullLogger.Instance))
        {
            Append(spill, "good", "flipped", "after");
        }

        string file = Assert.Single(Directory.GetFiles(_directory));
        byte[] bytes = File.ReadAllBytes(file);
        int at = bytes.AsSpan().IndexOf("flipped"u8);
        bytes[at] ^= 0x20;
        File.WriteAllBytes(file, bytes);

        using var restarted = new AuditSpill(_directory, 1 << 20, NullLogger.Instance);
        Assert.Equal(["good"], ReadAll(restarted));
    }

    [Fact]
    public void Records_past_the_size_bound_are_refused_for_the_caller_to_count()
    {
        using var spill = new AuditSpill(_directory, 8 + (2 * (8 + 10)), NullLogger.Instance);
        var (data, ends) = Rows("0123456789", "0123456789", "0123456789");
        Assert.Equal(2, spill.Append(data, ends, 0, ends.Count));
        Assert.Equal(0, spill.Append(data, ends, 2, 3));
        Assert.Equal(["0123456789", "0123456789"], ReadAll(spill));
    }

    [Fact]
    public void A_chunk_not_committed_is_read_again()
    {
        using var spill = new AuditSpill(_directory, 1 << 20, NullLogger.Instance);
        Append(spill, "a", "b", "c");
        var data = new ArrayBufferWriter<byte>();
        var ends = new List<int>();
        Assert.True(spill.ReadChunk(data, ends, 2, 1 << 20));
        Assert.Equal(2, ends.Count);

        // the database failed: no Commit; the same rows come again
        Assert.True(spill.ReadChunk(data, ends, 2, 1 << 20));
        Assert.Equal("a", Encoding.UTF8.GetString(AuditSpill.Row(data.WrittenSpan, ends, 0)));
        spill.Commit();
        Assert.True(spill.ReadChunk(data, ends, 2, 1 << 20));
        Assert.Equal("c", Encoding.UTF8.GetString(AuditSpill.Row(data.WrittenSpan, ends, 0)));
        spill.Commit();
        Assert.False(spill.HasPending);
    }

    [Fact]
    public void A_spill_file_written_before_the_experiment_tags_is_replayed_with_the_new_columns_untagged()
    {
        // A worker of the previous release spilled two records (file header MDSAUD01, tuples of 13 fields) and stopped;
        // the upgraded worker finds the file at start-up.
        var encoder = new AuditCopyEncoder(maxPayloadBytes: 64 * 1024);
        var request = new Mds.Contracts.Inference.InferenceRequest { Inputs = [new("x", Mds.Contracts.Inference.TensorDatatype.Fp32, [1, 1], new[] { 1f })] };
        var current = new List<byte[]>();
        var old = new ArrayBufferWriter<byte>();
        old.Write("MDSAUD01"u8);
        foreach (string id in new[] { "r1", "r2" })
        {
            encoder.Clear();
            encoder.WriteRow(new InferenceRecord(Guid.CreateVersion7(), DateTimeOffset.UtcNow, id, "m", 1, 200, 1, "c", null, null, request, null), "w");
            byte[] now = encoder.Written.ToArray();
            current.Add(now);
            byte[] before = now[..^13];
            System.Buffers.Binary.BinaryPrimitives.WriteInt16BigEndian(before, 13);
            AuditSpill.WriteEntry(old, before);
        }

        File.WriteAllBytes(Path.Combine(_directory, "audit-20261201T000000000000-1-0000.spill"), old.WrittenSpan.ToArray());

        using var restarted = new AuditSpill(_directory, 1 << 20, NullLogger.Instance);
        var data = new ArrayBufferWriter<byte>();
        var ends = new List<int>();
        Assert.True(restarted.ReadChunk(data, ends, 10, 1 << 20));
        Assert.Equal(2, ends.Count);
        Assert.Equal(current[0], AuditSpill.Row(data.WrittenSpan, ends, 0).ToArray());
        Assert.Equal(current[1], AuditSpill.Row(data.WrittenSpan, ends, 1).ToArray());
        restarted.Commit();
        Assert.False(restarted.HasPending);
        Assert.Empty(Directory.GetFiles(_directory));
    }

    [Fact]
    public void A_new_spill_file_says_it_holds_tuples_with_the_experiment_columns()
    {
        using (var spill = new AuditSpill(_directory, 1 << 20, NullLogger.Instance))
        {
            Append(spill, "a");
        }

        Assert.Equal("MDSAUD02"u8.ToArray(), File.ReadAllBytes(Assert.Single(Directory.GetFiles(_directory)))[..8]);
    }

    private static void Append(AuditSpill spill, params string[] rows)
    {
        var (data, ends) = Rows(rows);
        Assert.Equal(rows.Length, spill.Append(data, ends, 0, ends.Count));
    }

    private static (byte[] Data, List<int> Ends) Rows(params string[] rows)
    {
        var ends = new List<int>();
        var data = new List<byte>();
        foreach (string row in rows)
        {
            data.AddRange(Encoding.UTF8.GetBytes(row));
            ends.Add(data.Count);
        }

        return (data.ToArray(), ends);
    }

    private static List<string> ReadAll(AuditSpill spill)
    {
        var all = new List<string>();
        var data = new ArrayBufferWriter<byte>();
        var ends = new List<int>();
        while (spill.ReadChunk(data, ends, 2, 1 << 20))
        {
            for (int i = 0; i < ends.Count; i++)
            {
                all.Add(Encoding.UTF8.GetString(AuditSpill.Row(data.WrittenSpan, ends, i)));
            }

            spill.Commit();
        }

        return all;
    }
}
