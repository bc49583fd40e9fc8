using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

// The thinnest server the worker is measured against: one ONNX Runtime session of the model given, one endpoint that
// reads a V2 request for one FP32 input, runs it and writes the outputs as V2 JSON. No validation beyond what it needs,
// no routing, no metrics, no audit: what a hand-written server for one model would be.
// usage: Mds.Bench.Baseline <model.onnx> <url>
if (args.Length != 2)
{
    await Console.Error.WriteLineAsync("usage: Mds.Bench.Baseline <model.onnx> <url>");
    return 2;
}

using var session = new InferenceSession(args[0]);
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseUrls(args[1]);
var app = builder.Build();
app.MapGet("/health", () => Results.Ok());
app.MapPost("/infer", async (HttpContext http) =>
{
    using var request = await JsonDocument.ParseAsync(http.Request.Body);
    var input = request.RootElement.GetProperty("inputs")[0];
    long[] shape = [.. input.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64())];
    float[] data = [.. input.GetProperty("data").EnumerateArray().Select(v => v.GetSingle())];
    using var tensor = OrtValue.CreateTensorValueFromMemory(data, shape);
    using var runOptions = new RunOptions();
    using var outputs = session.Run(runOptions, [input.GetProperty("name").GetString()!], [tensor], session.OutputNames);

    http.Response.ContentType = "application/json";
    await using var writer = new Utf8JsonWriter(http.Response.BodyWriter);
    writer.WriteStartObject();
    writer.WriteString("model_name", "baseline");
    writer.WriteStartArray("outputs");
    for (int i = 0; i < outputs.Count; i++)
    {
        var info = outputs[i].GetTensorTypeAndShape();
        writer.WriteStartObject();
        writer.WriteString("name", session.OutputNames[i]);
        writer.WriteStartArray("shape");
        foreach (long d in info.Shape)
        {
            writer.WriteNumberValue(d);
        }

        writer.WriteEndArray();
        writer.WriteString("datatype", info.ElementDataType switch
        {
            TensorElementType.String => "BYTES",
            TensorElementType.Int64 => "INT64",
            _ => "FP32",
        });
        writer.WriteStartArray("data");
        if (info.ElementDataType == TensorElementType.String)
        {
            foreach (string s in outputs[i].GetStringTensorAsArray())
            {
                writer.WriteStringValue(s);
            }
        }
        else if (info.ElementDataType == TensorElementType.Int64)
        {
            foreach (long v in outputs[i].GetTensorDataAsSpan<long>())
            {
                writer.WriteNumberValue(v);
            }
        }
        else
        {
            foreach (float v in outputs[i].GetTensorDataAsSpan<float>())
            {
                writer.WriteNumberValue(v);
            }
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    writer.WriteEndArray();
    writer.WriteEndObject();
    await writer.FlushAsync();
});
await app.RunAsync();
return 0;
