using Microsoft.OpenApi;

namespace Mds.Backend.ApiDocs;

/// <summary>One field of a multipart/form-data upload, as the OpenAPI document describes it.</summary>
/// <param name="Name">The form field's name.</param>
/// <param name="Description">What the field holds.</param>
/// <param name="File">A file part (binary) rather than a text field.</param>
/// <param name="Required">The upload is refused without it.</param>
/// <param name="Multiple">The field may be sent more than once (one part per file).</param>
public sealed record MultipartField(string Name, string Description, bool File = false, bool Required = false, bool Multiple = false);

/// <summary>
/// Endpoint metadata of an upload whose handler reads the multipart body itself (streamed by
/// <see cref="Registry.MultipartUpload"/>, so the generator sees no parameters): the fields it reads, for the document's
/// <c>requestBody</c>.
/// </summary>
public sealed class MultipartForm(IReadOnlyList<MultipartField> fields)
{
    public IReadOnlyList<MultipartField> Fields { get; } = fields;

    /// <summary>The <c>requestBody</c>: <c>multipart/form-data</c>, an object with one property per field.</summary>
    public OpenApiRequestBody RequestBody()
    {
        var properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal);
        foreach (var field in Fields)
        {
            var one = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Format = field.File ? "binary" : null,
                Description = field.Multiple ? null : field.Description,
            };
            properties[field.Name] = field.Multiple
                ? new OpenApiSchema { Type = JsonSchemaType.Array, Items = one, Description = field.Description }
                : one;
        }

        var schema = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Properties = properties,
            Required = new HashSet<string>(Fields.Where(f => f.Required).Select(f => f.Name), StringComparer.Ordinal),
        };
        return new OpenApiRequestBody
        {
            Required = true,
            Content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal)
            {
                ["multipart/form-data"] = new OpenApiMediaType { Schema = schema },
            },
        };
    }
}

public static class MultipartFormExtensions
{
    /// <summary>Says in the OpenAPI document which multipart/form-data fields the endpoint reads.</summary>
    public static RouteHandlerBuilder AcceptsMultipart(this RouteHandlerBuilder builder, params MultipartField[] fields) =>
        builder.WithMetadata(new MultipartForm(fields));
}
