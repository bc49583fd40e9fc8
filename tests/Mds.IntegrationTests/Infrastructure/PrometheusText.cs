using System.Globalization;
using System.Text;

namespace Mds.IntegrationTests.Infrastructure;

/// <summary>One sample of a Prometheus text exposition: <c>name{label="value",…} value</c>.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>
/// A scrape of <c>/metrics</c> parsed from the Prometheus text exposition format (version 0.0.4): comments and
/// <c># TYPE</c> lines are skipped, label values are unescaped (<c>\\</c>, <c>\"</c>, <c>\n</c>), values may be
/// <c>+Inf</c>, <c>-Inf</c> or <c>NaN</c>, and an optional timestamp is ignored. Enough for tests to compare figures.
/// </summary>
public sealed class PrometheusText
{
    private PrometheusText(IReadOnlyList<PrometheusSample> samples, string text)
    {
        Samples = samples;
        Text = text;
    }

    public IReadOnlyList<PrometheusSample> Samples { get; }

    /// <summary>The exposition as scraped, for failure messages.</summary>
    public string Text { get; }

    /// <summary>GETs <c>/metrics</c> from <paramref name="service"/> and parses it.</summary>
    public static async Task<PrometheusText> ScrapeAsync(Uri service)
    {
        using var http = new HttpClient { BaseAddress = service, Timeout = TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        return Parse(await response.Content.ReadAsStringAsync());
    }

    /// <exception cref="FormatException">A line is not a valid sample.</exception>
    public static PrometheusText Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var samples = new List<PrometheusSample>();
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            samples.Add(ParseLine(line));
        }

        return new PrometheusText(samples, text);
    }

    /// <summary>
    /// The sum of the samples named <paramref name="name"/> whose labels include <paramref name="labels"/> (other labels
    /// may be there too); 0 when there is none, as for a counter that has not counted yet.
    /// </summary>
    public double Sum(string name, params (string Label, string Value)[] labels) =>
        Matching(name, labels).Sum(s => s.Value);

    /// <summary>Whether any sample is named <paramref name="name"/> with <paramref name="labels"/>.</summary>
    public bool Has(string name, params (string Label, string Value)[] labels) => Matching(name, labels).Any();

    /// <summary>The one sample named <paramref name="name"/> with <paramref name="labels"/>; fails the test unless there is exactly one.</summary>
    public double Single(string name, params (string Label, string Value)[] labels)
    {
        var found = Matching(name, labels).ToList();
        Assert.True(found.Count == 1, $"{found.Count} samples named {name} with {string.Join(", ", labels)}:\n{Text}");
        return found[0].Value;
    }

    private IEnumerable<PrometheusSample> Matching(string name, (string Label, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out string? v) && v == l.Value));

    private static PrometheusSample ParseLine(string line)
    {
        int i = 0;
        while (i < line.Length && line[i] != '{' && line[i] != ' ')
        {
            i++;
        }

        string name = line[..i];
        if (name.Length == 0)
        {
            throw new FormatException($"no metric name: '{line}'");
        }

        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                while (i < line.Length && (line[i] == ',' || line[i] == ' '))
                {
                    i++;
                }

                if (i >= line.Length)
                {
                    throw new FormatException($"unterminated labels: '{line}'");
                }

                if (line[i] == '}')
                {
                    i++;
                    break;
                }

                int eq = line.IndexOf('=', i);
                if (eq < 0 || eq + 1 >= line.Length || line[eq + 1] != '"')
                {
                    throw new FormatException($"bad label at {i}: '{line}'");
                }

                string label = line[i..eq];
                var value = new StringBuilder();
                i = eq + 2;
                while (true)
                {
                    if (i >= line.Length)
                    {
                        throw new FormatException($"unterminated label value: '{line}'");
                    }

                    char c = line[i++];
                    if (c == '"')
                    {
                        break;
                    }

                    if (c == '\\' && i < line.Length)
                    {
                        char escaped = line[i++];
                        value.Append(escaped == 'n' ? '\n' : escaped);
                    }
                    else
                    {
                        value.Append(c);
                    }
                }

                labels[label] = value.ToString();
            }
        }

        string[] rest = line[i..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (rest.Length is < 1 or > 2)
        {
            throw new FormatException($"expected a value and an optional timestamp: '{line}'");
        }

        return new PrometheusSample(name, labels, ParseValue(rest[0]));
    }

    private static double ParseValue(string text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };
}
