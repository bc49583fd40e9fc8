using Microsoft.Extensions.Options;

namespace Mds.Portal.Api;

/// <summary>Registers one typed client per backend area, each addressed at <see cref="PortalOptions.BackendUrl"/>.</summary>
public static class BackendClients
{
    /// <summary>How long a page waits for the backend before it says so.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    /// <summary>How long an upload (up to 512 MiB from the browser) may take; a small batch is scored within it too.</summary>
    public static readonly TimeSpan UploadTimeout = TimeSpan.FromMinutes(30);

    /// <summary>How long a page waits for a model to answer, or for an explanation or drift report to be computed.</summary>
    public static readonly TimeSpan InferenceTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Adds one typed client per backend area.</summary>
    public static IServiceCollection AddBackendClients(this IServiceCollection services)
    {
        services.AddHttpClient<AuthClient>(Configure);
        services.AddHttpClient<ModelsClient>(Configure);
        services.AddHttpClient<WorkersClient>(Configure);
        services.AddHttpClient<FeedbackClient>(Configure);
        services.AddHttpClient<StatsClient>(Configure);
        services.AddHttpClient<UsersClient>(Configure);
        services.AddHttpClient<KeysClient>(Configure);
        services.AddHttpClient<BatchesClient>(Configure);
        services.AddHttpClient<RecordsClient>(Configure);
        services.AddHttpClient<OutliersClient>(Configure);
        services.AddHttpClient<PipelinesClient>(Configure);
        services.AddHttpClient<ExperimentsClient>(Configure);
        services.AddHttpClient<StreamsClient>(Configure);
        services.AddHttpClient<ConfigClient>(Configure);
        services.AddHttpClient<ModelUploadsClient>((s, http) => Configure(s, http, UploadTimeout));
        services.AddHttpClient<DatasetsClient>((s, http) => Configure(s, http, UploadTimeout));
        services.AddHttpClient<BatchUploadsClient>((s, http) => Configure(s, http, UploadTimeout));
        services.AddHttpClient<InferenceClient>((s, http) => Configure(s, http, InferenceTimeout));
        services.AddHttpClient<ImagesClient>((s, http) => Configure(s, http, InferenceTimeout));
        services.AddHttpClient<DriftClient>((s, http) => Configure(s, http, InferenceTimeout));
        services.AddHttpClient<ExplanationsClient>((s, http) => Configure(s, http, InferenceTimeout));
        return services;
    }

    private static void Configure(IServiceProvider services, HttpClient http) => Configure(services, http, Timeout);

    private static void Configure(IServiceProvider services, HttpClient http, TimeSpan timeout)
    {
        var backend = services.GetRequiredService<IOptions<PortalOptions>>().Value.BackendUrl;
        // A trailing slash keeps relative paths ("api/models") under a backend mounted below the host's root.
        http.BaseAddress = backend.AbsoluteUri.EndsWith('/') ? backend : new Uri(backend.AbsoluteUri + "/");
        http.Timeout = timeout;
    }
}
