using Mds.Backend.ApiDocs;
using Mds.Backend.Audit;
using Mds.Backend.Auth;
using Mds.Backend.Batches;
using Mds.Backend.Cluster;
using Mds.Backend.Config;
using Mds.Backend.Data;
using Mds.Backend.Datasets;
using Mds.Backend.Drift;
using Mds.Backend.Experiments;
using Mds.Backend.Explanations;
using Mds.Backend.Feedback;
using Mds.Backend.Gateway;
using Mds.Backend.Images;
using Mds.Backend.Monitoring;
using Mds.Backend.Outliers;
using Mds.Backend.Pipelines;
using Mds.Backend.Registry;
using Mds.Backend.Scheduling;
using Mds.Backend.Streams;
using Mds.ServiceDefaults;

// Content root is the app folder, so appsettings.json is found whatever the working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

builder.AddMdsDefaults("mds-backend");
builder.AddMdsData();
builder.AddMdsAuth();
builder.AddRegistry();
builder.AddCluster();
builder.AddScheduling();
builder.AddDatasets();
builder.AddBatches();
builder.AddImages();
builder.AddAudit();
builder.AddOutliers();
builder.AddDrift();
builder.AddExplanations();
builder.AddMonitoring();
builder.AddPipelines();
builder.AddExperiments();
builder.AddExperimentStatistics();
builder.AddStreams();
builder.Services.AddGateway();
builder.AddGrpcGateway();
builder.Services.AddGatewayStatistics();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddApiReference();

var app = builder.Build();

app.UseExceptionHandler();
app.UseInferenceFastPath();
app.UseStatusCodeBodies();
app.UseAuthentication();
app.UseAuthorization();
app.UseRateLimiter();
app.UseJobsDashboard();

app.MapMdsDefaults();
app.MapAuthApi();
app.MapJwks();
app.MapRegistryApi();
app.MapDatasetsApi();
app.MapBatchesApi();
app.MapImagesApi();
app.MapAuditApi();
app.MapOutliersApi();
app.MapDriftApi();
app.MapExplanationsApi();
app.MapFeedbackApi();
app.MapWorkersApi();
app.MapGatewayApi();
app.MapPipelineGateway();
app.MapPipelinesApi();
app.MapExperimentGateway();
app.MapExperimentsApi();
app.MapStreamsApi();
app.MapGatewayStatistics();
app.MapGrpcGateway();
app.MapRepositoryApi();
app.MapStatsApi();
app.MapConfigApi();
app.MapEndpointListing(app.Configuration);
app.MapApiReference();

app.Run();

/// <summary>The backend's entry point; public for WebApplicationFactory.</summary>
public partial class Program;
