using MixLora.Serving;

namespace MixLora.Tests.Serving;

/// <summary>
/// The Jinja subset, feature by feature. Expected values follow Jinja2 3.1 with trim_blocks and lstrip_blocks
/// (the environment transformers renders chat templates in) and Python's str() of values.
/// </summary>
public class JinjaInterpreterTests
{
    private static string Render(string template, Dictionary<string, object?>? variables = null) =>
        new JinjaTemplate(template, "test.jinja").Render(variables ?? [], () => new DateTime(2026, 1, 15, 9, 5, 7));

    private static ChatTemplateException Fails(string template, Dictionary<string, object?>? variables = null) =>
        Assert.Throws<ChatTemplateException>(() => Render(template, variables));

    [Theory]
    [InlineData("a  {{- 'b' -}}  c", "abc")]
    [InlineData("a \n {%- if true -%} \n b \n {%- endif -%} \n c", "abc")]
    [InlineData("a\n  {#- comment -#}\n  b", "ab")]
    [InlineData("[ {{ 'x' }} ]", "[ x ]")]
    [InlineData("{{ 1 }}\n{{ 2 }}", "1\n2")]
    public void WhitespaceControlStripsAllWhitespaceOnItsSide(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    // trim_blocks: the newline after a block or comment tag goes, not other whitespace, not after }}.
    [InlineData("{% if true %}\nyes\n{% endif %}\nafter", "yes\nafter")]
    [InlineData("{% if true %}  \nyes{% endif %}", "  \nyes")]
    [InlineData("{# note #}\nx", "x")]
    [InlineData("{{ 'v' }}\nx", "v\nx")]
    [InlineData("{% if true +%}\nx{% endif %}", "\nx")]
    // lstrip_blocks: spaces and tabs before a block tag at the start of a line go; not before {{, not with {%+.
    [InlineData("    {% if true %}\n    x\n  \t{% endif %}\ny", "    x\ny")]
    [InlineData("  {{ 'v' }}", "  v")]
    [InlineData("  {%+ if true %}x{% endif %}", "  x")]
    [InlineData("a  {% if true %}x{% endif %}", "a  x")]
    [InlineData("a\n  {# c #}\nb", "a\nb")]
    // Jinja drops one trailing newline of the template and turns \r\n into \n.
    [InlineData("x\n", "x")]
    [InlineData("x\n\n", "x\n")]
    [InlineData("a\r\nb", "a\nb")]
    public void TrimBlocksAndLstripBlocksAsTransformersSetsThem(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void IndentedTemplatesRenderWithoutTheirLayout()
    {
        const string template = """
            {% for m in messages %}
                {% if m.role == 'user' %}
                    U:{{ m.content }}
                {% else %}
                    A:{{ m.content }}
                {% endif %}
            {% endfor %}
            """;
        var messages = new[] { ChatTurn.User("hi"), ChatTurn.Assistant("yo") };
        Assert.Equal("        U:hi\n        A:yo\n", Render(template, new() { ["messages"] = messages }));
    }

    [Fact]
    public void LoopVariables()
    {
        Assert.Equal("10TrueFalse332|21FalseFalse321|32FalseTrue310|",
            Render("{% for x in ['a','b','c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}"));
        Assert.Equal("-:a:b a:b:c b:c:-",
            Render("{% for x in 'abc' %}{{ loop.previtem | default('-') }}:{{ x }}:{{ loop.nextitem | default('-') }}{{ ' ' if not loop.last }}{% endfor %}"));
        Assert.Equal("oeo", Render("{% for x in [1, 2, 3] %}{{ loop.cycle('o', 'e') }}{% endfor %}"));
    }

    [Fact]
    public void LoopFiltersElseBreakContinueAndUnpacking()
    {
        Assert.Equal("1,3,5,7,9", Render("{% for x in range(10) if x is odd %}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}"));
        Assert.Equal("empty", Render("{% for x in [] %}x{% else %}empty{% endfor %}"));
        Assert.Equal("0134", Render("{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}"));
        Assert.Equal("a=1;b=2;", Render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"));
        Assert.Equal("ab", Render("{% for k in {'a': 1, 'b': 2} %}{{ k }}{% endfor %}"));
        Assert.Equal("", Render("{% for x in missing %}x{% endfor %}"));
        Assert.Equal("1.1 1.2 2.1 2.2 ", Render("{% for i in [1, 2] %}{% set outer = loop %}{% for j in [1, 2] %}{{ outer.index }}.{{ loop.index }} {% endfor %}{% endfor %}"));
    }

    [Fact]
    public void SetInsideALoopStaysInTheLoopButNamespacesCarryOut()
    {
        // Jinja scoping: each iteration starts from the outer value, and the outer variable is unchanged.
        Assert.Equal("231", Render("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}"));
        // if does not open a scope.
        Assert.Equal("b", Render("{% set x = 'a' %}{% if true %}{% set x = 'b' %}{% endif %}{{ x }}"));
        Assert.Equal("3", Render("{% set ns = namespace(n=0) %}{% for i in range(3) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"));
        Assert.Equal("7 True", Render("{% set ns = namespace() %}{% set ns.a = 7 %}{% set ns.b = true %}{{ ns.a }} {{ ns.b }}"));
        var error = Fails("{% set x = 1 %}{% set x.y = 2 %}");
        Assert.Contains("cannot assign attribute 'y' on 'x': it is not a namespace() object", error.Message);
    }

    [Fact]
    public void SetForms()
    {
        Assert.Equal("1-2", Render("{% set a, b = [1, 2] %}{{ a }}-{{ b }}"));
        Assert.Equal("(1, 2)", Render("{% set t = 1, 2 %}{{ t }}"));
        Assert.Equal("[a1b]", Render("{% set x %}a{{ 1 }}b{% endset %}[{{ x }}]"));
        Assert.Equal("[AB]", Render("{% set x | upper %} ab {% endset %}[{{ x | trim }}]"));
        Assert.Equal("Hi A! Hi B?", Render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', punct='?') }}"));
        Assert.Equal("AB", Render("{% filter upper %}ab{% endfilter %}"));
        Assert.Equal("2 1", Render("{% set a = 1 %}{% with a = 2, b = a %}{{ a }} {{ b }}{% endwith %}"));
        Assert.Equal("x", Render("{% generation %}x{% endgeneration %}"));
        Assert.Equal("{{ not evaluated }}", Render("{% raw %}{{ not evaluated }}{% endraw %}"));
    }

    [Theory]
    [InlineData("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }}", "3 -4 1 2 3.5 1024 7 9")]
    [InlineData("{{ 'a' ~ 1 ~ none ~ true }} {{ 'ab' * 2 }} {{ [1] + [2] }} {{ 'x' + 'y' }}", "a1NoneTrue abab [1, 2] xy")]
    [InlineData("{{ 1 < 2 < 3 }} {{ 3 < 2 < 5 }} {{ 'b' in 'abc' }} {{ 3 not in [1, 2] }} {{ 'k' in {'k': 1} }}", "True False True True True")]
    [InlineData("{{ none or 'x' }} {{ 0 and 1 }} {{ not true }} {{ not(1 == 2) }} {{ 1 == 1.0 }} {{ true == 1 }}", "x 0 False True True True")]
    [InlineData("{{ 'y' if true else 'n' }}{{ 'y' if false }}{{ 'a' if false else 'b' if true else 'c' }}", "yb")]
    [InlineData("{{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 10 / 4 }} {{ 1.0 }} {{ 2.5e3 }} {{ -0.0 }}", "0.30000000000000004 1e+20 1e-05 2.5 1.0 2500.0 -0.0")]
    [InlineData("{{ [1, 'a', none, true, 2.0, (1,), (), {'k': \"it's\"}] }}", "[1, 'a', None, True, 2.0, (1,), (), {'k': \"it's\"}]")]
    [InlineData("{{ 'it\\'s' }}|{{ \"tab\\there\" }}|{{ '\\u00e9\\x41' }}|{{ 'a\\\\b' }}|{{ 'keep\\d' }}|{{ 'ab' 'cd' }}", "it's|tab\there|éA|a\\b|keep\\d|abcd")]
    [InlineData("{{ {'a': {'b': 1}} }}", "{'a': {'b': 1}}")]
    [InlineData("{{ x }}|{{ none }}|{{ true }}|{{ -3 }}|{{ +3 }}|{{ 1_000 }}|{{ 0x1F }}", "|None|True|-3|3|1000|31")]
    public void ExpressionsFollowPython(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 'a' is string }} {{ 1 is number }} {{ 1 is integer }} {{ 1.5 is float }}", "False True True True True True True")]
    [InlineData("{{ {} is mapping }} {{ [] is iterable }} {{ 4 is divisibleby 2 }} {{ 4 is divisibleby(3) }} {{ 3 is odd }} {{ 3 is even }} {{ x is not defined }}", "True True True False True False True")]
    [InlineData("{{ true is boolean }} {{ false is false }} {{ 1 is true }} {{ 'ab' is lower }} {{ 2 is in [1, 2] }} {{ 'a' is eq 'a' }} {{ none is sameas none }}", "True True False True True True True")]
    [InlineData("{{ not x is defined }} {{ not (x is defined) }} {{ 'a' is string and 1 is number }}", "True True True")]
    public void Tests(string template, string expected) => Assert.Equal(expected, Render(template));

    [Theory]
    [InlineData("{{ '  a b \n' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ x | trim }}", "a b|a|")]
    [InlineData("{{ [1, 2] | length }} {{ 'héllo' | length }} {{ '😀a' | length }} {{ {'a': 1} | count }} {{ x | length }}", "2 5 2 1 0")]
    [InlineData("{{ 12 | string + '!' }} {{ 'AbC' | lower }} {{ 'AbC' | upper }} {{ 'hello world' | title }} {{ 'hELLO' | capitalize }}", "12! abc ABC Hello World Hello")]
    [InlineData("{{ 'a-b-c' | replace('-', '+') }} {{ 'a-b-c' | replace('-', '+', 1) }} {{ [3, 1, 2] | first }} {{ 'xyz' | last }}", "a+b+c a+b-c 3 z")]
    [InlineData("{{ ['a', 'b'] | join(', ') }} {{ [1, 2] | join }} {{ [{'n': 'x'}, {'n': 'y'}] | join('/', attribute='n') }}", "a, b 12 x/y")]
    [InlineData("{{ x | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | d('d', boolean=true) }} {{ '<b>' | safe }}", "d  d d <b>")]
    [InlineData("{{ 'ab' | list }} {{ {'a': 1} | items | list }} {{ [3, 1, 2] | sort }} {{ [3, 1, 2] | sort(reverse=true) }} {{ ['b', 'A', 'a'] | unique | list }}", "['a', 'b'] [('a', 1)] [1, 2, 3] [3, 2, 1] ['b', 'A']")]
    [InlineData("{{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }} {{ [1, 5, 3] | max }} {{ [4, 2] | min }} {{ [1, 2, 3] | sum }} {{ -3 | abs }}", "[3, 2, 1] cba 5 2 6 3")]
    [InlineData("{{ '42' | int + 1 }} {{ 'x' | int }} {{ '2.5' | float }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 3.5 | round }}", "43 0 2.5 2.57 2.0 4.0")]
    [InlineData("{{ {'b': 2, 'a': 1} | dictsort }} {{ 'a\nb' | indent(2) }} {{ 'a\nb' | indent(2, true) }} {{ 'one two  three' | wordcount }} {{ '<&>' | e }}", "[('a', 1), ('b', 2)] a\n  b   a\n  b 3 &lt;&amp;&gt;")]
    [InlineData("{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ msgs | rejectattr('role', 'eq', 'user') | list | length }} {{ [0, 1, 2] | select | list }} {{ [1, 2, 3] | reject('odd') | list }} {{ ['a', 'b'] | map('upper') | list }}", "['u1', 'u2'] 1 [1, 2] [2] ['A', 'B']")]
    public void Filters(string template, string expected)
    {
        var msgs = new[] { ChatTurn.User("u1"), ChatTurn.Assistant("a1"), ChatTurn.User("u2") };
        Assert.Equal(expected, Render(template, new() { ["msgs"] = msgs }));
    }

    [Fact]
    public void ToJsonIsPythonsJsonDumps()
    {
        Assert.Equal("{\"a\": [1, 2.5, true, null], \"b\": \"é\\\"\\n\\u0001\"}", Render("{{ {'a': [1, 2.5, true, none], 'b': 'é\"\\n\\x01'} | tojson }}"));
        Assert.Equal("{\n  \"a\": [\n    1\n  ],\n  \"b\": {},\n  \"c\": []\n}", Render("{{ {'a': [1], 'b': {}, 'c': []} | tojson(indent=2) }}"));
        Assert.Equal("{\"a\": 1, \"b\": 2}", Render("{{ {'b': 2, 'a': 1} | tojson(sort_keys=true) }}"));
        Assert.Equal("\"\\u00e9\"", Render("{{ 'é' | tojson(ensure_ascii=true) }}"));
        Assert.Equal("{\"1\": \"x\"}", Render("{{ {1: 'x'} | tojson }}"));
        Assert.Contains("Object of type Undefined is not JSON serializable", Fails("{{ missing | tojson }}").Message);
    }

    [Theory]
    [InlineData("{{ [1, 2, 3, 4][1:] }}", "[2, 3, 4]")]
    [InlineData("{{ [1, 2, 3, 4][::-1] }}", "[4, 3, 2, 1]")]
    [InlineData("{{ [1, 2, 3, 4][-2:] }}", "[3, 4]")]
    [InlineData("{{ [1, 2, 3, 4, 5][::2] }} {{ [1, 2, 3, 4, 5][3:0:-1] }} {{ [1, 2][5:] }}", "[1, 3, 5] [4, 3, 2] []")]
    [InlineData("{{ 'hello'[1:3] }} {{ 'hello'[-1] }} {{ 'hello'[:-1] }} {{ 'abc'[::-1] }} {{ '😀ab'[1:] }}", "el o hell cba ab")]
    [InlineData("{{ [1, 2, 3][-1] }} {{ [1, 2, 3][5] is defined }} {{ (1, 2)[0] }} {{ messages[0].role }} {{ messages.0.content }} {{ messages[0]['role'] }}", "3 False 1 user hi user")]
    public void IndexingAndSlicing(string template, string expected) =>
        Assert.Equal(expected, Render(template, new() { ["messages"] = new[] { ChatTurn.User("hi") } }));

    [Theory]
    [InlineData("{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '\\n\\nhi\\n'.lstrip('\\n') }}|{{ 'hi  '.rstrip() }}", "a b|a|hi\n|hi")]
    [InlineData("{{ 'abc'.startswith('ab') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.endswith('bc') }} {{ 'abc'.endswith('b') }} {{ 'abc'.startswith('b', 1) }}", "True True True False True")]
    [InlineData("{{ 'a<think>b</think>c'.split('</think>')[-1] }} {{ ' a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'a,,b'.split(',') }}", "c ['a', 'b'] ['a', 'b,c'] ['a,b', 'c'] ['a', '', 'b']")]
    [InlineData("{{ 'Ab'.upper() }} {{ 'Ab'.lower() }} {{ 'a-b'.replace('-', '') }} {{ 'abcb'.find('b') }} {{ 'abcb'.rfind('b') }} {{ 'abcb'.count('b') }} {{ '-'.join(['x', 'y']) }}", "AB ab ab 1 3 2 x-y")]
    [InlineData("{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 0) }} {{ d.keys() | list }} {{ d.values() | list }} {{ d['a'] }} {{ d.a }} {{ d.z is defined }}", "1 None 0 ['a'] [1] 1 1 False")]
    [InlineData("{{ 'a\\nb\\r\\nc'.splitlines() }} {{ 'x.json'.removesuffix('.json') }} {{ '12'.isdigit() }}", "['a', 'b', 'c'] x True")]
    public void StringAndDictMethods(string template, string expected) =>
        Assert.Equal(expected, Render(template, new() { ["d"] = new Dictionary<string, object?> { ["a"] = 1 } }));

    [Fact]
    public void GlobalsRaiseExceptionStrftimeRangeNamespaceDict()
    {
        Assert.Equal("15 Jan 2026|January 15, 2026|Thursday 09:05:07|2026-01-15", Render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%B %-d, %Y') }}|{{ strftime_now('%A %H:%M:%S') }}|{{ strftime_now('%Y-%m-%d') }}"));
        Assert.Equal("[0, 1, 2] [2, 4] [3, 2]", Render("{{ range(3) | list }} {{ range(2, 6, 2) | list }} {{ range(3, 1, -1) | list }}"));
        Assert.Equal("{'a': 1, 'b': 2}", Render("{{ dict(a=1, b=2) }}"));
        var error = Fails("line 1\n  {{ raise_exception('bad conversation') }}");
        Assert.Equal(ChatTemplateErrorKind.Raised, error.Kind);
        Assert.Equal("bad conversation", error.Problem);
        Assert.Equal((2, 6), (error.Line, error.Column));
        Assert.Equal("test.jinja: the chat template refused the conversation at line 2, column 6: bad conversation", error.Message);
        Assert.Contains("range too big", Fails("{{ range(1000000) | length }}").Message);
    }

    [Fact]
    public void UndefinedValuesPrintEmptyButFailWhenUsed()
    {
        Assert.Equal("", Render("{{ missing }}{{ {'a': 1}.b }}{{ none.x }}{{ 'str'.content }}"));
        Assert.Equal("False", Render("{{ 'str'.content is defined }}"));
        var attribute = Fails("{{ missing.attr }}");
        Assert.Equal(ChatTemplateErrorKind.Render, attribute.Kind);
        Assert.Equal("'missing' is undefined", attribute.Problem);
        Assert.Equal("'dict object' has no attribute 'b'", Fails("{{ {'a': 1}.b.c }}").Problem);
        Assert.Equal("'list object' has no element 3", Fails("{{ [1][3].x }}").Problem);
        Assert.Equal("'missing' is undefined", Fails("{{ 'a' + missing }}").Problem);
        Assert.Equal("can only concatenate str (not \"int\") to str", Fails("{{ 'a' + 1 }}").Problem);
        Assert.Equal("integer division or modulo by zero", Fails("{{ 1 // 0 }}").Problem);
        Assert.Equal("'int' object is not iterable", Fails("{% for x in 3 %}{% endfor %}").Problem);
        Assert.Equal("'str' object is not callable", Fails("{{ 'a'() }}").Problem);
    }

    [Theory]
    [InlineData("{% if x %}open", 1, 15, "unexpected end of template, expected 'elif' or 'else' or 'endif'; the innermost block that needs to be closed is 'if'")]
    [InlineData("line one\n{{ x + }}", 2, 8, "unexpected end of print statement")]
    [InlineData("{% for x in y %}{% endif %}{% endfor %}", 1, 20, "unexpected 'endif'; the innermost block that needs to be closed is 'for'")]
    [InlineData("{{ x | nosuchfilter }}", 1, 8, "no filter named 'nosuchfilter'")]
    [InlineData("{{ x is nosuchtest }}", 1, 9, "no test named 'nosuchtest'")]
    [InlineData("\n\n   {% foo %}", 3, 7, "encountered unknown tag 'foo'")]
    [InlineData("{{ 'unterminated }}", 1, 4, "unterminated string literal")]
    [InlineData("ok\n{# comment", 2, 1, "missing end of comment tag")]
    [InlineData("{{ (1 + 2 }}", 1, 11, "unexpected '}', expected ')'")]
    [InlineData("{% break %}", 1, 4, "'break' outside of a for loop")]
    [InlineData("{{ }}", 1, 4, "expected an expression, got 'end of print statement'")]
    [InlineData("{% set = 1 %}", 1, 8, "expected a variable name to assign to, got '='")]
    [InlineData("{% include 'x' %}", 1, 4, "the 'include' statement is not supported in chat templates")]
    [InlineData("{{ x", 1, 1, "unexpected end of template, the print statement opened here is not closed")]
    public void SyntaxErrorsNameTheSourceAndPosition(string template, int line, int column, string problem)
    {
        var error = Assert.Throws<ChatTemplateException>(() => new JinjaTemplate(template, "test.jinja"));
        Assert.Equal(ChatTemplateErrorKind.Syntax, error.Kind);
        Assert.Equal(problem, error.Problem);
        Assert.Equal((line, column), (error.Line, error.Column));
        Assert.Equal($"test.jinja: chat template syntax error at line {line}, column {column}: {problem}", error.Message);
    }

    [Fact]
    public void RuntimeErrorsNameTheLine()
    {
        var error = Fails("a\nb\n{{ messages[0].role }}", new() { ["messages"] = Array.Empty<ChatTurn>() });
        Assert.Equal(ChatTemplateErrorKind.Render, error.Kind);
        Assert.Equal(3, error.Line);
        Assert.Equal("test.jinja: chat template failed at line 3, column 15: 'list object' has no element 0", error.Message);
    }

    [Fact]
    public void DeepRecursionIsAnErrorNotACrash()
    {
        Assert.Contains("nested deeper than 100", Fails("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").Message);
        var deep = new string('(', 20000) + "1" + new string(')', 20000);
        var error = Assert.Throws<ChatTemplateException>(() => new JinjaTemplate("{{ " + deep + " }}", "deep.jinja"));
        Assert.Contains("nests too deeply", error.Message);
    }
}
