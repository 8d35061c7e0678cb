using System.Text.Json;
using MixLora.Serving;

namespace MixLora.Tests.Serving;

/// <summary>
/// The chat template of mistralai/Mistral-7B-Instruct-v0.3 (tokenizer_config.json "chat_template", the version with
/// tool calling; text as published there, used here as test data). There is no reference rendering in the golden
/// file, so the expected strings are derived by hand from the template:
/// <list type="bullet">
/// <item>Every tag starts with <c>{%-</c>, <c>{{-</c> or <c>{#-</c>, so all text between tags (newlines, indentation) is
/// removed and the output is the concatenation of the printed expressions.</item>
/// <item>A leading system message becomes <c>system_message</c> and is put before the LAST user message:
/// <c>"[INST] " + system + "\n\n" + content + "[/INST]"</c>; other user messages are <c>"[INST] " + content + "[/INST]"</c>.</item>
/// <item>An assistant message is <c>" " + content|trim + eos_token</c>; the text starts with <c>bos_token</c>.</item>
/// <item><c>add_generation_prompt</c> is never read; roles that do not alternate user/assistant raise an error.</item>
/// </list>
/// </summary>
public class MistralTemplateTests
{
    private const string MistralV03 = """"
        {%- if messages[0]["role"] == "system" %}
            {%- set system_message = messages[0]["content"] %}
            {%- set loop_messages = messages[1:] %}
        {%- else %}
            {%- set loop_messages = messages %}
        {%- endif %}
        {%- if not tools is defined %}
            {%- set tools = none %}
        {%- endif %}
        {%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

        {#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
        {%- set ns = namespace() %}
        {%- set ns.index = 0 %}
        {%- for message in loop_messages %}
            {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
                {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
                    {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
                {%- endif %}
                {%- set ns.index = ns.index + 1 %}
            {%- endif %}
        {%- endfor %}

        {{- bos_token }}
        {%- for message in loop_messages %}
            {%- if message["role"] == "user" %}
                {%- if tools is not none and (message == user_messages[-1]) %}
                    {{- "[AVAILABLE_TOOLS] [" }}
                    {%- for tool in tools %}
                        {%- set tool = tool.function %}
                        {{- '{"type": "function", "function": {' }}
                        {%- for key, val in tool.items() if key != "return" %}
                            {%- if val is string %}
                                {{- '"' + key + '": "' + val + '"' }}
                            {%- else %}
                                {{- '"' + key + '": ' + val|tojson }}
                            {%- endif %}
                            {%- if not loop.last %}
                                {{- ", " }}
                            {%- endif %}
                        {%- endfor %}
                        {{- "}}" }}
                        {%- if not loop.last %}
                            {{- ", " }}
                        {%- else %}
                            {{- "]" }}
                        {%- endif %}
                    {%- endfor %}
                    {{- "[/AVAILABLE_TOOLS]" }}
                    {%- endif %}
                {%- if loop.last and system_message is defined %}
                    {{- "[INST] " + system_message + "\n\n" + message["content"] + "[/INST]" }}
                {%- else %}
                    {{- "[INST] " + message["content"] + "[/INST]" }}
                {%- endif %}
            {%- elif message.tool_calls is defined and message.tool_calls is not none %}
                {{- "[TOOL_CALLS] [" }}
                {%- for tool_call in message.tool_calls %}
                    {%- set out = tool_call.function|tojson %}
                    {{- out[:-1] }}
                    {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                        {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
                    {%- endif %}
                    {{- ', "id": "' + tool_call.id + '"}' }}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- else %}
                        {{- "]" + eos_token }}
                    {%- endif %}
                {%- endfor %}
            {%- elif message["role"] == "assistant" %}
                {{- " " + message["content"]|trim + eos_token}}
            {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
                {%- if message.content is defined and message.content.content is defined %}
                    {%- set content = message.content.content %}
                {%- else %}
                    {%- set content = message.content %}
                {%- endif %}
                {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
                {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
                    {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
                {%- endif %}
                {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
            {%- else %}
                {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
            {%- endif %}
        {%- endfor %}

        """";

    private static ChatTemplate Template() => new(MistralV03, "Mistral-7B-Instruct-v0.3 chat_template") { BosToken = "<s>", EosToken = "</s>", UnkToken = "<unk>" };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void ThreeTurnConversationWithSystemMessage(bool addGenerationPrompt)
    {
        // system → system_message; loop_messages = user, assistant, user (alternation holds: ns.index 0, 1, 2).
        // user 1 (not last): "[INST] What is 2 + 2?[/INST]"; assistant: " " + "2 + 2 = 4." + "</s>";
        // user 2 (last, system defined): "[INST] You are a helpful assistant.\n\nAnd  3 + 3?\n[/INST]" (content verbatim).
        var text = Template().Render(ChatGolden.Conversation("system_user_assistant_user"), addGenerationPrompt);
        Assert.Equal("<s>[INST] What is 2 + 2?[/INST] 2 + 2 = 4.</s>[INST] You are a helpful assistant.\n\nAnd  3 + 3?\n[/INST]", text);
    }

    [Fact]
    public void ConversationsWithoutSystemMessage()
    {
        Assert.Equal("<s>[INST] Tell me a story about a dog.[/INST]", Template().Render(ChatGolden.Conversation("user_only"), true));
        Assert.Equal("<s>[INST] Say hi.[/INST] Hi!</s>", Template().Render(ChatGolden.Conversation("user_assistant"), true));
        // The assistant's content is trimmed; a user's is not.
        Assert.Equal("<s>[INST]  a [/INST] b</s>",
            Template().Render([ChatTurn.User(" a "), ChatTurn.Assistant("\n b \n")], true));
    }

    [Fact]
    public void RolesThatDoNotAlternateAreRefusedWithTheTemplatesMessage()
    {
        var error = Assert.Throws<ChatTemplateException>(() => Template().Render([ChatTurn.User("a"), ChatTurn.User("b")], true));
        Assert.Equal(ChatTemplateErrorKind.Raised, error.Kind);
        Assert.Equal("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...", error.Problem);
        Assert.StartsWith("Mistral-7B-Instruct-v0.3 chat_template: the chat template refused the conversation at line 18, column 17", error.Message);

        var unknownRole = Assert.Throws<ChatTemplateException>(() => Template().Render([ChatTurn.User("a"), new ChatTurn("narrator", "b")], true));
        Assert.Equal("Only user and assistant roles are supported, with the exception of an initial optional system message!", unknownRole.Problem);
    }

    [Fact]
    public void ToolsAreListedBeforeTheLastUserMessage()
    {
        // tools is not none and the message equals user_messages[-1]: "[AVAILABLE_TOOLS] [" then per tool
        // '{"type": "function", "function": {' + "key": value pairs joined by ", " (strings quoted as they are,
        // other values through tojson) + "}}", the tools joined by ", ", then "]" and "[/AVAILABLE_TOOLS]".
        using var tools = JsonDocument.Parse("""
            [{"type": "function", "function": {"name": "get_weather", "description": "Get the weather",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
            """);
        var text = Template().Render([ChatTurn.User("Weather in Paris?")], true,
            new Dictionary<string, object?> { ["tools"] = tools.RootElement });
        Assert.Equal(
            "<s>[AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the weather\", " +
            "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}]" +
            "[/AVAILABLE_TOOLS][INST] Weather in Paris?[/INST]",
            text);
    }
}
