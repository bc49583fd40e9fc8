using System.Globalization;
using CsCheck;
using Mds.Backend.Pipelines.Conditions;
using Mds.Contracts.Inference;

namespace Mds.UnitTests.Pipelines;

public class ConditionTests
{
    private static bool Whole(string condition, TestTensors tensors) => ConditionParser.Parse(condition).Evaluate(tensors);

    private static bool[] Rows(string condition, TestTensors tensors, int rows) => ConditionParser.Parse(condition).EvaluateRows(tensors, rows);

    private static TestTensors X(TensorDatatype datatype, params double[] values) =>
        new TestTensors().Add("a.outputs.x", datatype, [values.Length], TestTensors.Numeric(datatype, values));

    public static TheoryData<TensorDatatype> NumericDatatypes =>
    [
        TensorDatatype.UInt8, TensorDatatype.UInt16, TensorDatatype.UInt32, TensorDatatype.UInt64,
        TensorDatatype.Int8, TensorDatatype.Int16, TensorDatatype.Int32, TensorDatatype.Int64,
        TensorDatatype.Fp16, TensorDatatype.Bf16, TensorDatatype.Fp32, TensorDatatype.Fp64,
    ];

    [Theory]
    [MemberData(nameof(NumericDatatypes))]
    public void Evaluate_EachOperatorOnEachNumericDatatype_HoldsWhenEveryElementDoes(TensorDatatype datatype)
    {
        TestTensors tensors = X(datatype, 1, 2, 3);

        Assert.True(Whole("a.outputs.x > 0", tensors));
        Assert.False(Whole("a.outputs.x > 1", tensors));
        Assert.True(Whole("a.outputs.x >= 1", tensors));
        Assert.False(Whole("a.outputs.x >= 2", tensors));
        Assert.True(Whole("a.outputs.x < 4", tensors));
        Assert.False(Whole("a.outputs.x < 3", tensors));
        Assert.True(Whole("a.outputs.x <= 3", tensors));
        Assert.True(Whole("a.outputs.x <= 3.5", tensors));
        Assert.False(Whole("a.outputs.x <= 2.5", tensors));
        Assert.True(Whole("a.outputs.x != 0", tensors));
        Assert.False(Whole("a.outputs.x != 2", tensors));
        Assert.False(Whole("a.outputs.x == 2", tensors));
        Assert.True(Whole("a.outputs.x[1] == 2", tensors));
        Assert.True(Whole("a.outputs.x[-1] == 3.0", tensors));
        Assert.True(Whole("a.outputs.x in [3, 1, 2]", tensors));
        Assert.False(Whole("a.outputs.x in [1, 2]", tensors));
        Assert.True(Whole("a.outputs.x not in [0, 4.5]", tensors));
        Assert.False(Whole("a.outputs.x not in [2]", tensors));
        Assert.True(Whole("a.outputs.x", tensors));
        Assert.False(Whole("a.outputs.x", X(datatype, 1, 0)));
    }

    [Fact]
    public void Evaluate_Int64AgainstAnIntegerLiteral_ComparesExactly()
    {
        // 2^53 + 1 is not a double; a comparison through double would call these equal.
        var tensors = new TestTensors().Add("a.outputs.x", TensorDatatype.Int64, [1], new[] { 9007199254740993L });

        Assert.True(Whole("a.outputs.x == 9007199254740993", tensors));
        Assert.True(Whole("a.outputs.x != 9007199254740992", tensors));
        Assert.True(Whole("a.outputs.x > 9007199254740992", tensors));
    }

    [Fact]
    public void Evaluate_UInt64AboveInt64Range_ComparesExactly()
    {
        var tensors = new TestTensors().Add("a.outputs.x", TensorDatatype.UInt64, [1], new[] { ulong.MaxValue });

        Assert.True(Whole("a.outputs.x > 9223372036854775807", tensors));
        Assert.True(Whole("a.outputs.x > -1", tensors));
        Assert.False(Whole("a.outputs.x in [-1]", tensors));
    }

    [Fact]
    public void Evaluate_IntegerTensorInAListOfReals_MatchesEqualValues()
    {
        TestTensors tensors = X(TensorDatatype.Int32, 2);

        Assert.True(Whole("a.outputs.x in [2.0]", tensors));
        Assert.False(Whole("a.outputs.x in [2.5]", tensors));
    }

    [Fact]
    public void Evaluate_Fp16_ComparesAsDouble()
    {
        var tensors = new TestTensors().Add("a.outputs.x", TensorDatatype.Fp16, [2], new[] { (Half)0.5, (Half)0.75 });

        Assert.True(Whole("a.outputs.x > 0.25", tensors));
        Assert.True(Whole("a.outputs.x[1] == 0.75", tensors));
        Assert.False(Whole("a.outputs.x >= 0.6", tensors));
    }

    [Theory]
    [InlineData("a.outputs.x == 1", false)]
    [InlineData("a.outputs.x != 1", true)]
    [InlineData("a.outputs.x < 1", false)]
    [InlineData("a.outputs.x <= 1", false)]
    [InlineData("a.outputs.x > 1", false)]
    [InlineData("a.outputs.x >= 1", false)]
    [InlineData("a.outputs.x in [1]", false)]
    [InlineData("a.outputs.x not in [1]", true)]
    [InlineData("a.outputs.x == a.outputs.x", false)]
    [InlineData("a.outputs.x != a.outputs.x", true)]
    public void Evaluate_NaN_ComparesFalseExceptNotEqual(string condition, bool expected)
    {
        var tensors = new TestTensors().Fp32("a.outputs.x", [1], float.NaN);

        Assert.Equal(expected, Whole(condition, tensors));
    }

    [Theory]
    [InlineData("a.outputs.b", false)]
    [InlineData("a.outputs.b[0]", true)]
    [InlineData("a.outputs.b == true", false)]
    [InlineData("a.outputs.b[0] == true", true)]
    [InlineData("a.outputs.b[1] == false", true)]
    [InlineData("a.outputs.b[0] == 1", true)]
    [InlineData("a.outputs.b[1] == 0", true)]
    [InlineData("a.outputs.b != 2", true)]
    [InlineData("a.outputs.b <= true", true)]
    [InlineData("a.outputs.b[1] < true", true)]
    [InlineData("a.outputs.b < 0.5", false)]
    [InlineData("a.outputs.b in [true, false]", true)]
    [InlineData("a.outputs.b not in [true]", false)]
    [InlineData("a.outputs.b[1] not in [true]", true)]
    [InlineData("a.outputs.b in [1, 0]", true)]
    [InlineData("not a.outputs.b[1]", true)]
    public void Evaluate_BoolTensor_ComparesWithTrueFalseOrOneZero(string condition, bool expected)
    {
        var tensors = new TestTensors().Add("a.outputs.b", TensorDatatype.Bool, [2], new[] { true, false });

        Assert.Equal(expected, Whole(condition, tensors));
    }

    [Theory]
    [InlineData("a.outputs.s == 'cat'", false)]
    [InlineData("a.outputs.s[0] == 'cat'", true)]
    [InlineData("a.outputs.s[1] == \"Cat\"", true)]
    [InlineData("a.outputs.s[1] != 'cat'", true)]
    [InlineData("a.outputs.s > 'B'", true)]
    [InlineData("a.outputs.s[1] < 'c'", true)]
    [InlineData("a.outputs.s[0] >= 'cat'", true)]
    [InlineData("a.outputs.s <= 'cat'", true)]
    [InlineData("a.outputs.s in ['Cat', 'cat']", true)]
    [InlineData("a.outputs.s in ['CAT', 'cat']", false)]
    [InlineData("a.outputs.s not in ['dog']", true)]
    [InlineData("a.outputs.s == a.outputs.s", true)]
    public void Evaluate_BytesTensor_ComparesOrdinally(string condition, bool expected)
    {
        var tensors = new TestTensors().Add("a.outputs.s", TensorDatatype.Bytes, [2], new[] { "cat", "Cat" });

        Assert.Equal(expected, Whole(condition, tensors));
    }

    [Theory]
    [InlineData("a.outputs.x == 'a'", "'a.outputs.x' is a FP32 tensor and cannot be compared with the string \"a\"")]
    [InlineData("a.outputs.x == true", "'a.outputs.x' is a FP32 tensor and cannot be compared with true")]
    [InlineData("a.outputs.x in ['a']", "'a.outputs.x' is a FP32 tensor and cannot be looked up in a list of strings")]
    [InlineData("a.outputs.x in [true]", "list of booleans")]
    [InlineData("a.outputs.s == 1", "'a.outputs.s' is a BYTES tensor and cannot be compared with 1")]
    [InlineData("a.outputs.s in [1]", "'a.outputs.s' is a BYTES tensor and cannot be looked up in a list of numbers")]
    [InlineData("a.outputs.s", "'a.outputs.s' is a BYTES tensor, which has no truth value")]
    [InlineData("a.outputs.s == a.outputs.x", "'a.outputs.s' (BYTES) and 'a.outputs.x' (FP32) cannot be compared")]
    [InlineData("a.outputs.x == a.outputs.y", "'a.outputs.x' selects shape [2] but 'a.outputs.y' selects [3]")]
    [InlineData("a.outputs.x[0,0] > 1", "'a.outputs.x[0,0]' has 2 indices but tensor 'a.outputs.x' has 1 dimensions (shape [2])")]
    [InlineData("a.outputs.x[2] > 1", "'a.outputs.x[2]': index 2 is out of range for dimension 0 (size 2) of tensor 'a.outputs.x'")]
    [InlineData("a.outputs.x[-3] > 1", "index -3 is out of range for dimension 0")]
    public void Evaluate_MismatchedTensor_ThrowsNamingIt(string condition, string message)
    {
        var tensors = new TestTensors()
            .Fp32("a.outputs.x", [2], 1, 2)
            .Fp32("a.outputs.y", [3], 1, 2, 3)
            .Add("a.outputs.s", TensorDatatype.Bytes, [2], new[] { "a", "b" });

        var error = Assert.Throws<ConditionEvaluationException>(() => Whole(condition, tensors));

        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_TwoTensors_CompareElementwise()
    {
        var tensors = new TestTensors()
            .Fp32("a.outputs.x", [2, 2], 1, 5, 3, 7)
            .Add("b.outputs.y", TensorDatatype.Int64, [2, 2], new long[] { 0, 4, 2, 6 })
            .Add("b.outputs.z", TensorDatatype.Int32, [2], new[] { 1, 3 });

        Assert.True(Whole("a.outputs.x > b.outputs.y", tensors));
        Assert.False(Whole("a.outputs.x < b.outputs.y", tensors));
        Assert.True(Whole("a.outputs.x[:,0] == b.outputs.z", tensors));
        Assert.True(Whole("b.outputs.z < a.outputs.x[1]", tensors));
        Assert.Equal([false, true], Rows("b.outputs.y[:,0] >= 2", tensors, 2));
        Assert.Equal([true, true], Rows("a.outputs.x[:,1] > b.outputs.y[:,1]", tensors, 2));
    }

    [Fact]
    public void Evaluate_AbsentTensor_MakesItsComparisonFalse()
    {
        var tensors = new TestTensors().Fp32("a.outputs.x", [1], 1);

        Assert.False(Whole("b.outputs.y == 1", tensors));
        Assert.False(Whole("b.outputs.y != 1", tensors));
        Assert.False(Whole("b.outputs.y not in [1]", tensors));
        Assert.False(Whole("b.outputs.y", tensors));
        Assert.False(Whole("a.outputs.x == b.outputs.y", tensors));
        Assert.True(Whole("not b.outputs.y == 1", tensors));
        Assert.True(Whole("b.outputs.y == 1 or a.outputs.x == 1", tensors));
        Assert.Equal([false, false], Rows("b.outputs.y > 0", tensors, 2));
        Assert.Equal([true, true], Rows("not b.outputs.y > 0", tensors, 2));
    }

    [Fact]
    public void Evaluate_EmptyTensor_IsFalse()
    {
        var tensors = new TestTensors().Fp32("a.outputs.x", [0, 3]);

        Assert.False(Whole("a.outputs.x > 0", tensors));
        Assert.False(Whole("a.outputs.x <= 0", tensors));
        Assert.True(Whole("not a.outputs.x > 0", tensors));
        Assert.Empty(Rows("a.outputs.x > 0", tensors, 0));
    }

    [Fact]
    public void Evaluate_ShortCircuits_SoTheRightSideIsNotRead()
    {
        var tensors = new TestTensors().Add("a.outputs.s", TensorDatatype.Bytes, [1], new[] { "x" });

        Assert.True(Whole("true or a.outputs.s > 1", tensors));
        Assert.False(Whole("false and a.outputs.s > 1", tensors));
        Assert.Equal([false], Rows("false && a.outputs.s > 1", tensors, 1));
        Assert.Equal([true], Rows("true || a.outputs.s > 1", tensors, 1));
        Assert.Throws<ConditionEvaluationException>(() => Whole("true and a.outputs.s > 1", tensors));
    }

    [Fact]
    public void Evaluate_ScalarTensor_ComparesItsOneElement()
    {
        var tensors = new TestTensors().Fp32("a.outputs.x", [], 0.9f);

        Assert.True(Whole("a.outputs.x > 0.8", tensors));
        Assert.True(Whole("0.8 < a.outputs.x", tensors));
    }

    [Fact]
    public void Evaluate_ColumnSlice_ComparesThatColumn()
    {
        var tensors = new TestTensors().Fp32("a.outputs.p", [2, 3], 0.1f, 0.85f, 0.05f, 0.3f, 0.9f, 0.0f);

        Assert.True(Whole("a.outputs.p[:,1] > 0.8", tensors));
        Assert.False(Whole("a.outputs.p[:,0] > 0.8", tensors));
        Assert.True(Whole("a.outputs.p[1,-2] == a.outputs.p[1,1]", tensors));
        Assert.False(Whole("a.outputs.p[1] > 0.2", tensors));
    }

    [Fact]
    public void Evaluate_SliceOfAThreeDimensionalTensor_SelectsTheRightElements()
    {
        // shape [2,3,2]: element (i,j,k) = 100i + 10j + k
        float[] data = new float[12];
        for (int i = 0; i < 2; i++)
        {
            for (int j = 0; j < 3; j++)
            {
                for (int k = 0; k < 2; k++)
                {
                    data[(i * 6) + (j * 2) + k] = (100 * i) + (10 * j) + k;
                }
            }
        }

        var tensors = new TestTensors().Fp32("a.outputs.t", [2, 3, 2], data);

        Assert.True(Whole("a.outputs.t[:,:,1] in [1, 11, 21, 101, 111, 121]", tensors));
        Assert.True(Whole("a.outputs.t[:,2] in [20, 21, 120, 121]", tensors));
        Assert.True(Whole("a.outputs.t[-1,1,0] == 110", tensors));
        Assert.Equal([false, true], Rows("a.outputs.t[:,:,0] >= 100", tensors, 2));
        Assert.Equal([true, true], Rows("a.outputs.t[:,1,1] in [11, 111]", tensors, 2));
    }

    [Fact]
    public void EvaluateRows_PerRowTensor_HoldsWhereEveryElementOfTheRowDoes()
    {
        var tensors = new TestTensors()
            .Fp32("a.outputs.p", [3, 2], 0.9f, 0.95f, 0.9f, 0.1f, 0.0f, 0.0f)
            .Add("b.outputs.label", TensorDatatype.Bytes, [3], new[] { "cat", "dog", "cat" });

        Assert.Equal([true, false, false], Rows("a.outputs.p > 0.5", tensors, 3));
        Assert.Equal([true, true, false], Rows("a.outputs.p[:,0] > 0.5", tensors, 3));
        Assert.Equal([true, false, true], Rows("b.outputs.label == 'cat'", tensors, 3));
        Assert.Equal([true, false, false], Rows("b.outputs.label == 'cat' and a.outputs.p[:,0] > 0.5", tensors, 3));
        Assert.Equal([true, true, true], Rows("b.outputs.label == 'cat' || a.outputs.p[:,0] > 0.5", tensors, 3));
        Assert.Equal([false, true, false], Rows("!(b.outputs.label in ['cat'])", tensors, 3));
        Assert.Equal([true, true, true], Rows("true", tensors, 3));
        Assert.Equal([false, false, false], Rows("false", tensors, 3));
    }

    [Fact]
    public void EvaluateRows_LiteralsBroadcastAndTensorsCompareRowByRow()
    {
        var tensors = new TestTensors()
            .Fp32("a.outputs.x", [3, 2], 1, 2, 3, 4, 5, 6)
            .Fp32("b.outputs.y", [3, 2], 0, 0, 3, 5, 9, 9);

        Assert.Equal([true, false, false], Rows("a.outputs.x > b.outputs.y", tensors, 3));
        Assert.Equal([false, true, false], Rows("a.outputs.x[:,0] == b.outputs.y[:,0]", tensors, 3));
    }

    [Theory]
    [InlineData("a.outputs.x > 0", "Tensor 'a.outputs.x' has shape [2,2]; a per-row condition over 3 rows needs its first dimension to be 3")]
    [InlineData("a.outputs.s > 0", "Tensor 'a.outputs.s' has shape []; a per-row condition over 3 rows")]
    [InlineData("a.outputs.x[0] > 0", "'a.outputs.x[0]' fixes the row index; a per-row condition needs ':' as the first index")]
    public void EvaluateRows_TensorThatDoesNotFitTheRows_Throws(string condition, string message)
    {
        var tensors = new TestTensors().Fp32("a.outputs.x", [2, 2], 1, 2, 3, 4).Fp32("a.outputs.s", [], 1);
        int rows = condition.Contains("[0]", StringComparison.Ordinal) ? 2 : 3;

        var error = Assert.Throws<ConditionEvaluationException>(() => Rows(condition, tensors, rows));

        Assert.Contains(message.Replace("3", rows.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal), error.Message, StringComparison.Ordinal);
    }

    // Property tests: random FP32 [rows, cols] tensors with small integer values (so ties occur) and thresholds.
    private static readonly string[] Operators = ["==", "!=", "<", "<=", ">", ">="];

    private static readonly Gen<(int Rows, int Cols, float[] Data, int Col, string Op, double Threshold)> Matrices =
        from rows in Gen.Int[1, 12]
        from cols in Gen.Int[1, 4]
        from data in Gen.OneOf(Gen.Int[-3, 3].Select(i => (float)i), Gen.Float[-4f, 4f]).Array[rows * cols]
        from col in Gen.Int[0, cols - 1]
        from op in Gen.Int[0, Operators.Length - 1]
        from threshold in Gen.OneOf(Gen.Int[-3, 3].Select(i => (double)i), Gen.Double[-4, 4])
        select (rows, cols, data, col, Operators[op], threshold);

    private static bool Direct(string op, double x, double c) => op switch
    {
        "==" => x == c,
        "!=" => x != c,
        "<" => x < c,
        "<=" => x <= c,
        ">" => x > c,
        _ => x >= c,
    };

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static TestTensors Tensors((int Rows, int Cols, float[] Data, int Col, string Op, double Threshold) m) =>
        new TestTensors().Fp32("t.outputs.x", [m.Rows, m.Cols], m.Data);

    [Fact]
    public void Property_ColumnComparisonRows_EqualADirectComputation() =>
        Matrices.Sample(m =>
        {
            bool[] rows = Rows($"t.outputs.x[:,{m.Col}] {m.Op} {Number(m.Threshold)}", Tensors(m), m.Rows);

            for (int r = 0; r < m.Rows; r++)
            {
                Assert.Equal(Direct(m.Op, m.Data[(r * m.Cols) + m.Col], m.Threshold), rows[r]);
            }
        });

    [Fact]
    public void Property_WholeRowComparison_HoldsWhereEveryColumnDoes() =>
        Matrices.Sample(m =>
        {
            bool[] rows = Rows($"t.outputs.x {m.Op} {Number(m.Threshold)}", Tensors(m), m.Rows);

            for (int r = 0; r < m.Rows; r++)
            {
                bool all = true;
                for (int c = 0; c < m.Cols; c++)
                {
                    all &= Direct(m.Op, m.Data[(r * m.Cols) + c], m.Threshold);
                }

                Assert.Equal(all, rows[r]);
            }
        });

    [Fact]
    public void Property_Not_NegatesEveryRow() =>
        Matrices.Sample(m =>
        {
            string a = $"t.outputs.x[:,{m.Col}] {m.Op} {Number(m.Threshold)}";

            bool[] plain = Rows(a, Tensors(m), m.Rows);
            bool[] negated = Rows($"not ({a})", Tensors(m), m.Rows);

            Assert.Equal(Array.ConvertAll(plain, v => !v), negated);
        });

    [Fact]
    public void Property_AndOr_CombineRowsElementwise_AndObeyDeMorgan() =>
        Matrices.Sample(m =>
        {
            string a = $"t.outputs.x[:,{m.Col}] {m.Op} {Number(m.Threshold)}";
            string b = $"t.outputs.x[:,{m.Cols - 1 - m.Col}] >= 0";
            TestTensors tensors = Tensors(m);
            bool[] rowsA = Rows(a, tensors, m.Rows);
            bool[] rowsB = Rows(b, tensors, m.Rows);

            bool[] and = Rows($"{a} and {b}", tensors, m.Rows);
            bool[] or = Rows($"{a} or {b}", tensors, m.Rows);

            for (int r = 0; r < m.Rows; r++)
            {
                Assert.Equal(rowsA[r] && rowsB[r], and[r]);
                Assert.Equal(rowsA[r] || rowsB[r], or[r]);
            }

            Assert.Equal(Rows($"not ({a} and {b})", tensors, m.Rows), Rows($"not ({a}) or not ({b})", tensors, m.Rows));
            Assert.Equal(Rows($"not ({a} or {b})", tensors, m.Rows), Rows($"!({a}) && !({b})", tensors, m.Rows));
        });

    [Fact]
    public void Property_WholeEvaluate_IsAllOfTheRows() =>
        Matrices.Sample(m =>
        {
            Condition condition = ConditionParser.Parse($"t.outputs.x[:,{m.Col}] {m.Op} {Number(m.Threshold)}");
            TestTensors tensors = Tensors(m);

            Assert.Equal(Array.TrueForAll(condition.EvaluateRows(tensors, m.Rows), v => v), condition.Evaluate(tensors));
        });

    [Fact]
    public void Property_MirroredLiteral_MeansTheSame() =>
        Matrices.Sample(m =>
        {
            string mirrored = m.Op switch { "<" => ">", "<=" => ">=", ">" => "<", ">=" => "<=", _ => m.Op };

            Assert.Equal(
                Rows($"t.outputs.x[:,{m.Col}] {m.Op} {Number(m.Threshold)}", Tensors(m), m.Rows),
                Rows($"{Number(m.Threshold)} {mirrored} t.outputs.x[:,{m.Col}]", Tensors(m), m.Rows));
        });
}
