using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace Mds.Cli;

/// <summary>The options every command takes.</summary>
internal sealed class GlobalOptions
{
    public Option<string?> Url { get; } = new("--url")
    {
        Description = "The backend's URL (default: MDS_URL, then the profile's)",
        Recursive = true,
    };

    public Option<string?> Profile { get; } = new("--profile")
    {
        Description = "The profile to use (default: MDS_PROFILE, then the current one)",
        Recursive = true,
    };

    public Option<OutputFormat> Output { get; } = new("--output", "-o")
    {
        Description = "Output format: table, json or yaml",
        Recursive = true,
        HelpName = "table|json|yaml",
        DefaultValueFactory = _ => OutputFormat.Table,
        CustomParser = r => r.Tokens.Count == 0 ? OutputFormat.Table : r.Tokens[0].Value.ToLowerInvariant() switch
        {
            "table" => OutputFormat.Table,
            "json" => OutputFormat.Json,
            "yaml" or "yml" => OutputFormat.Yaml,
            var other => Fail(r, other),
        },
    };

    private static OutputFormat Fail(System.CommandLine.Parsing.ArgumentResult r, string value)
    {
        r.AddError($"'{value}' is not an output format; use table, json or yaml.");
        return OutputFormat.Table;
    }
}

/// <summary>mdsctl: builds the command tree and runs it. Exit codes: 0 ok, 1 failure, 2 usage.</summary>
internal static class CliApp
{
    public static async Task<int> RunAsync(string[] args, CliEnvironment? env = null, CancellationToken ct = default)
    {
        env ??= new CliEnvironment();
        var root = Build(env);
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            foreach (var error in parse.Errors)
            {
                await env.Error.WriteLineAsync("error: " + error.Message);
            }

            string path = string.Join(' ', CommandPath(parse.CommandResult.Command));
            await env.Error.WriteLineAsync($"Run '{path} --help' for usage.");
            return ExitCodes.Usage;
        }

        return await parse.InvokeAsync(new InvocationConfiguration { Output = env.Out, Error = env.Error, EnableDefaultExceptionHandler = false }, ct);
    }

    private static IEnumerable<string> CommandPath(Command command)
    {
        var names = new Stack<string>();
        for (Command? c = command; c is not null; c = c.Parents.OfType<Command>().FirstOrDefault())
        {
            names.Push(c is RootCommand ? "mdsctl" : c.Name);
        }

        return names;
    }

    public static RootCommand Build(CliEnvironment env)
    {
        var globals = new GlobalOptions();
        var root = new RootCommand("""
            mdsctl: the command-line client of MDS (Model Deployment Service).
            Exit codes: 0 ok, 1 failure (the reason is printed), 2 usage error. Shell completion: source <(mdsctl completion bash)
            """).Examples(
            "mdsctl login --url http://127.0.0.1:5080 --email admin@mds.local",
            "mdsctl models list",
            "mdsctl models upload iris.onnx --name iris --wait",
            "mdsctl infer iris --data 5.1,3.5,1.4,0.2",
            "mdsctl models show iris -o json");
        root.Options.Add(globals.Url);
        root.Options.Add(globals.Profile);
        root.Options.Add(globals.Output);
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new ExamplesHelpAction((HelpAction)help.Action!);
        var app = new Commands(env, globals);
        foreach (var command in app.All())
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    /// <summary>Runs a command's body: a <see cref="CliException"/> becomes its message on stderr and its exit code.</summary>
    public static void Action(this Command command, CliEnvironment env, GlobalOptions globals, Func<CliContext, CancellationToken, Task> body)
    {
        command.SetAction(async (parse, ct) =>
        {
            var context = new CliContext(parse, env, globals);
            try
            {
                await body(context, ct);
                return ExitCodes.Ok;
            }
            catch (CliException e)
            {
                await env.Error.WriteLineAsync("error: " + e.Message);
                return e.ExitCode;
            }
            catch (IOException e)
            {
                await env.Error.WriteLineAsync("error: " + e.Message);
                return ExitCodes.Failure;
            }
            catch (UnauthorizedAccessException e)
            {
                await env.Error.WriteLineAsync("error: " + e.Message);
                return ExitCodes.Failure;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                await env.Error.WriteLineAsync("error: cancelled");
                return ExitCodes.Failure;
            }
        });
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Command, string[]> ExampleTable = [];

    /// <summary>Examples that <c>--help</c> prints after the usage of <paramref name="command"/>.</summary>
    public static T Examples<T>(this T command, params string[] examples) where T : Command
    {
        ExampleTable.AddOrUpdate(command, examples);
        return command;
    }

    /// <summary>The standard help, then the command's examples.</summary>
    private sealed class ExamplesHelpAction(HelpAction inner) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            int code = inner.Invoke(parseResult);
            if (ExampleTable.TryGetValue(parseResult.CommandResult.Command, out string[]? examples))
            {
                var output = parseResult.InvocationConfiguration.Output;
                output.WriteLine("Examples:");
                foreach (string example in examples)
                {
                    output.WriteLine("  " + example);
                }

                output.WriteLine();
            }

            return code;
        }
    }
}
