using Mds.Contracts.Inference;

namespace Mds.Backend.Pipelines;

/// <summary>
/// Row (first dimension) operations on tensors for per-row routing: take some rows, merge partial tensors back in the
/// original row order. Pure; one <see cref="Array.Copy(Array, long, Array, long, long)"/> per row, whatever the element type.
/// </summary>
public static class TensorRows
{
    /// <summary>Rows of <paramref name="tensor"/> (its first dimension); -1 for a scalar.</summary>
    public static long RowsOf(InferenceTensor tensor) => tensor.Shape.Length == 0 ? -1 : tensor.Shape[0];

    /// <summary>The rows at <paramref name="positions"/> (indices into the tensor's first dimension), in that order.</summary>
    public static InferenceTensor Take(InferenceTensor tensor, ReadOnlySpan<int> positions, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.Shape.Length == 0)
        {
            throw new ArgumentException($"tensor '{tensor.Name}' is a scalar: it has no rows", nameof(tensor));
        }

        long rowSize = RowSize(tensor.Shape);
        var data = Array.CreateInstance(tensor.Datatype.ElementType(), positions.Length * rowSize);
        for (int i = 0; i < positions.Length; i++)
        {
            Array.Copy(tensor.Data, positions[i] * rowSize, data, i * rowSize, rowSize);
        }

        long[] shape = (long[])tensor.Shape.Clone();
        shape[0] = positions.Length;
        return new InferenceTensor(name ?? tensor.Name, tensor.Datatype, shape, data, tensor.Parameters);
    }

    /// <summary>
    /// Puts partial tensors together: part k holds, in its row j, original row <c>rows[k][j]</c>. The result has
    /// <paramref name="totalRows"/> rows. The caller has checked that every row is covered exactly once and that the
    /// parts agree on datatype and inner shape.
    /// </summary>
    public static InferenceTensor Merge(string name, IReadOnlyList<(InferenceTensor Part, int[] Rows)> parts, int totalRows)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var first = parts[0].Part;
        long rowSize = RowSize(first.Shape);
        var data = Array.CreateInstance(first.Datatype.ElementType(), totalRows * rowSize);
        foreach (var (part, rows) in parts)
        {
            for (int j = 0; j < rows.Length; j++)
            {
                Array.Copy(part.Data, j * rowSize, data, rows[j] * rowSize, rowSize);
            }
        }

        long[] shape = (long[])first.Shape.Clone();
        shape[0] = totalRows;
        return new InferenceTensor(name, first.Datatype, shape, data);
    }

    /// <summary>Elements per row: the product of every dimension but the first.</summary>
    public static long RowSize(long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        return InferenceTensor.ElementCount(shape.AsSpan(1));
    }

    /// <summary>A copy of <paramref name="tensor"/> under another name (the data is shared: tensors are immutable).</summary>
    public static InferenceTensor Rename(InferenceTensor tensor, string name)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return tensor.Name == name ? tensor : new InferenceTensor(name, tensor.Datatype, tensor.Shape, tensor.Data, tensor.Parameters);
    }
}
