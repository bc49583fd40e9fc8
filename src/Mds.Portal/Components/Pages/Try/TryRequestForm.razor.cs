using Mds.Contracts.Api;
using Mds.Contracts.Inference;
using Mds.Portal.Api;
using Mds.Portal.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;

namespace Mds.Portal.Components.Pages.Try;

/// <summary>An image chosen on the Try page: its file name and bytes (read once, never stored).</summary>
/// <param name="Name">The file's name.</param>
/// <param name="Bytes">The file's content.</param>
public sealed record ChosenImage(string Name, byte[] Bytes);

/// <summary>
/// The request half of <see cref="TryModel"/>: the form for one version's inputs (fields with reference rows, an image,
/// or V2 JSON). It checks what was filled in and hands a complete request to the page, which sends it.
/// </summary>
public partial class TryRequestForm
{
    private TryForm? _shownForm;
    private int? _referenceRow;
    private string? _formError;
    private ChosenImage? _image;
    private string? _imagePreview;

    /// <summary>The form for the chosen version's inputs.</summary>
    [Parameter, EditorRequired]
    public TryForm Form { get; set; } = default!;

    /// <summary>The image input, when the version takes one image.</summary>
    [Parameter]
    public ImageInput? ImageInput { get; set; }

    /// <summary>The version whose schema the form follows (its image preprocessing is shown).</summary>
    [Parameter]
    public ModelVersionDto? SchemaVersion { get; set; }

    /// <summary>Rows of the version's reference dataset to fill the form from, if it has one.</summary>
    [Parameter]
    public DatasetPreviewDto? Preview { get; set; }

    /// <summary>The version's reference dataset (its label column is skipped when filling from a row).</summary>
    [Parameter]
    public DatasetDto? Dataset { get; set; }

    /// <summary>True while the page waits for the answer.</summary>
    [Parameter]
    public bool Sending { get; set; }

    /// <summary>A complete tensor request to send.</summary>
    [Parameter]
    public EventCallback<InferenceRequest> OnPredict { get; set; }

    /// <summary>A chosen image to send.</summary>
    [Parameter]
    public EventCallback<ChosenImage> OnPredictImage { get; set; }

    /// <summary>Reset pressed: the page makes a fresh form and clears the answer.</summary>
    [Parameter]
    public EventCallback OnReset { get; set; }

    /// <summary>Another image chosen (or none): the page clears the answer.</summary>
    [Parameter]
    public EventCallback OnImageChanged { get; set; }

    /// <inheritdoc />
    protected override void OnParametersSet()
    {
        // A fresh form (another version, or Reset) starts without a chosen reference row.
        if (!ReferenceEquals(_shownForm, Form))
        {
            _shownForm = Form;
            _referenceRow = null;
        }
    }

    private void FillFromRow(int? row)
    {
        _referenceRow = row;
        if (row is { } r && Preview is not null)
        {
            Form.FillFrom(Preview.Columns, Preview.Rows[r], Dataset?.LabelColumn);
            _formError = null;
        }
    }

    private async Task ResetAsync()
    {
        _referenceRow = null;
        _formError = null;
        await OnReset.InvokeAsync();
    }

    private async Task SendAsync()
    {
        if (ImageInput is not null)
        {
            if (_image is null)
            {
                _formError = "Choose an image first.";
                return;
            }

            _formError = null;
            await OnPredictImage.InvokeAsync(_image);
            return;
        }

        if (Form.TryBuildRequest(out var request, out _formError))
        {
            await OnPredict.InvokeAsync(request);
        }
    }

    // Reads the chosen image once: its bytes go to the backend, and a data URL previews it (no file is stored).
    private async Task PickImageAsync(IBrowserFile? file)
    {
        await OnImageChanged.InvokeAsync();
        _formError = null;
        (_image, _imagePreview) = (null, null);
        if (file is null)
        {
            return;
        }

        if (file.Size > ImagesClient.MaxImageBytes)
        {
            _formError = $"The image is {Format.Bytes(file.Size)}; at most {Format.Bytes(ImagesClient.MaxImageBytes)} are accepted.";
            return;
        }

        using var buffer = new MemoryStream();
        await using (var stream = file.OpenReadStream(ImagesClient.MaxImageBytes))
        {
            await stream.CopyToAsync(buffer);
        }

        _image = new ChosenImage(file.Name, buffer.ToArray());
        string type = file.ContentType.StartsWith("image/", StringComparison.OrdinalIgnoreCase) ? file.ContentType : "image/png";
        _imagePreview = $"data:{type};base64,{Convert.ToBase64String(_image.Bytes)}";
    }

    // The seen values a text field offers for what is typed so far (all of them for nothing typed).
    private static IEnumerable<string> Offered(TryField field, string? typed) => string.IsNullOrEmpty(typed)
        ? field.Suggestions
        : field.Suggestions.Where(v => v.Contains(typed, StringComparison.OrdinalIgnoreCase));

    private static string RowSummary(IReadOnlyList<string> row)
    {
        string text = string.Join(", ", row.Take(6));
        return row.Count > 6 ? text + ", …" : text;
    }
}
