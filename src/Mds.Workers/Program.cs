using Mds.ServiceDefaults;
using Mds.Workers;
using Mds.Workers.Auth;
using Mds.Workers.Grpc;
using Mds.Workers.Inference;

// Mds.Workers: an ONNX Runtime inference host. It registers with the backend, takes load/unload orders from its own
// Hangfire queue, and serves the Open Inference Protocol (V2) over REST and gRPC. See ARCHITECTURE.md, "Processes".
// Content root = the app's folder, so appsettings.json is found when started as `dotnet path/Mds.Workers.dll`.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddMdsDefaults("mds-worker");
builder.AddWorkerHost();

var app = builder.Build();
app.UseWorkerPipeline();
app.MapMdsDefaults();
app.MapInferenceApi();
app.MapGrpcInference();
app.Run();

/// <summary>The worker's entry point; public so that tests can host it.</summary>
public partial class Program;
