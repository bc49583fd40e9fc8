using System.Reflection;
using System.Reflection.Emit;
using Mds.Backend.Registry;
using Microsoft.AspNetCore.Routing;

namespace Mds.UnitTests.Architecture;

/// <summary>
/// A backend feature (the folder and namespace <c>Mds.Backend.X</c>) may use another feature's services, entities and
/// helpers, but never its endpoint class (the static class that maps its routes): a helper that lives there belongs to
/// its own owner (<c>Http.ApiResults</c>, <c>Auth.CallerIdentity</c>, …). Read from the compiled IL, so a call made
/// through a lambda, an async state machine or a fully qualified name counts too.
/// </summary>
public sealed class FeatureBoundaryTests
{
    private static readonly Assembly Backend = typeof(RegistryApi).Assembly;

    /// <summary>
    /// The one hand-over by design: the V2 front doors (the model gateway, the pipeline gateway) give a call to the
    /// experiment that has taken the name over, through the experiment feature's own inference surface.
    /// </summary>
    private static readonly HashSet<string> AllowedTargets =
    [
        "Mds.Backend.Experiments.ExperimentGateway.InferAsync",
    ];

    [Fact]
    public void No_feature_calls_into_another_features_endpoint_class()
    {
        var endpointClasses = Backend.GetTypes().Where(IsEndpointClass).ToHashSet();
        Assert.Contains(typeof(RegistryApi), endpointClasses);

        var violations = References()
            .Where(r => endpointClasses.Contains(r.Target) && FeatureOf(r.From) is { } from && FeatureOf(r.Target) is { } to && from != to)
            .Where(r => !AllowedTargets.Contains($"{r.Target.FullName}.{r.Member}"))
            .Select(r => $"{r.From.FullName} → {r.Target.FullName}.{r.Member}")
            .Distinct().Order().ToList();

        Assert.True(violations.Count == 0, "Features reach into other features' endpoint classes:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void The_scan_sees_calls_made_from_lambdas_and_async_methods()
    {
        // Program.cs (no feature) maps every feature; the gateway's own forwarding facade calls into GatewayApi from an
        // expression body; the streams endpoints call StreamSettings from async handlers.
        var refs = References().ToList();
        Assert.Contains(refs, r => r.Target == typeof(Mds.Backend.Gateway.GatewayApi) && r.From == typeof(Mds.Backend.Gateway.GatewayForwarding));
        Assert.Contains(refs, r => r.Target == typeof(Mds.Backend.Streams.StreamSettings) && r.From == typeof(Mds.Backend.Streams.StreamsApi));
        Assert.Contains(refs, r => r.Target == typeof(Mds.Backend.Auth.CallerIdentity) && FeatureOf(r.From) == "Registry");
    }

    /// <summary>A static class with a public <c>Map…</c> extension on the endpoint builder.</summary>
    private static bool IsEndpointClass(Type t) =>
        t is { IsAbstract: true, IsSealed: true, IsNested: false } && FeatureOf(t) is not null &&
        t.GetMethods(BindingFlags.Public | BindingFlags.Static).Any(m => m.Name.StartsWith("Map", StringComparison.Ordinal) &&
            m.GetParameters() is [var first, ..] && typeof(IEndpointRouteBuilder).IsAssignableFrom(first.ParameterType));

    /// <summary>X of <c>Mds.Backend.X[.…]</c>; null outside a feature (Program, the global namespace).</summary>
    private static string? FeatureOf(Type t)
    {
        string? ns = Outermost(t).Namespace;
        if (ns is null || !ns.StartsWith("Mds.Backend.", StringComparison.Ordinal))
        {
            return null;
        }

        return ns["Mds.Backend.".Length..].Split('.')[0];
    }

    private static Type Outermost(Type t)
    {
        while (t.DeclaringType is { } outer)
        {
            t = outer;
        }

        return t;
    }

    private sealed record Reference(Type From, Type Target, string Member);

    /// <summary>Every member a method body of the backend names (call, field, token, type operands), by its outermost declaring type.</summary>
    private static IEnumerable<Reference> References()
    {
        const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        foreach (var type in Backend.GetTypes())
        {
            var from = Outermost(type);
            var bodies = type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All));
            foreach (var method in bodies)
            {
                byte[]? il;
                try
                {
                    il = method.GetMethodBody()?.GetILAsByteArray();
                }
                catch (BadImageFormatException)
                {
                    continue;
                }

                if (il is null)
                {
                    continue;
                }

                foreach (var token in Tokens(il))
                {
                    MemberInfo? member;
                    try
                    {
                        member = method.Module.ResolveMember(token,
                            type.IsGenericType ? type.GetGenericArguments() : null,
                            method.IsGenericMethod ? method.GetGenericArguments() : null);
                    }
                    catch (Exception e) when (e is ArgumentException or BadImageFormatException or TypeLoadException or FileNotFoundException or MissingMemberException)
                    {
                        continue;
                    }

                    var target = member switch
                    {
                        Type t => t,
                        { DeclaringType: { } d } => d,
                        _ => null,
                    };
                    if (target is not null && target.Assembly == Backend)
                    {
                        yield return new Reference(from, Outermost(target.IsGenericType && !target.IsGenericTypeDefinition ? target.GetGenericTypeDefinition() : target), member!.Name);
                    }
                }
            }
        }
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>The metadata tokens among the operands of <paramref name="il"/>.</summary>
    private static IEnumerable<int> Tokens(byte[] il)
    {
        int i = 0;
        while (i < il.Length)
        {
            short value = il[i] == 0xFE && i + 1 < il.Length ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += il[i] == 0xFE ? 2 : 1;
            if (!OpCodesByValue.TryGetValue(value, out var op))
            {
                yield break; // not an opcode: stop rather than read garbage
            }

            switch (op.OperandType)
            {
                case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                    yield return BitConverter.ToInt32(il, i);
                    i += 4;
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    i += 1;
                    break;
                case OperandType.InlineVar:
                    i += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    i += 8;
                    break;
                case OperandType.InlineSwitch:
                    i += 4 + (4 * BitConverter.ToInt32(il, i));
                    break;
                default: // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
                    i += 4;
                    break;
            }
        }
    }
}
