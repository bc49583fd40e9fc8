using Mds.Portal.Auth;
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
        // Every client that sends the signed-in user's token turns a 401 into the sign-in page; the sign-in's own
        // client (AuthClient) reads a 401 as a wrong password instead.
        services.AddTransient<SignInOnUnauthorized>();
        services.AddHttpClient<AuthClient>(Configure);
        services.AddHttpClient<ModelsClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<WorkersClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<FeedbackClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<StatsClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<UsersClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<KeysClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<BatchesClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<RecordsClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<OutliersClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<PipelinesClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<ExperimentsClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<StreamsClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<ConfigClient>(Configure).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<ModelUploadsClient>((s, http) => Configure(s, http, UploadTimeout)).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<DatasetsClient>((s, http) => Configure(s, http, UploadTimeout)).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<BatchUploadsClient>((s, http) => Configure(s, http, UploadTimeout)).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<InferenceClient>((s, http) => Configure(s, http, InferenceTimeout)).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<ImagesClient>((s, http) => Configure(s, http, InferenceTimeout)).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<DriftClient>((s, http) => Configure(s, http, InferenceTimeout)).AddHttpMessageHandler<SignInOnUnauthorized>();
        services.AddHttpClient<ExplanationsClient>((s, http) => Configure(s, http, InferenceTimeout)).AddHttpMessageHandler<SignInOnUnauthorized>();
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
