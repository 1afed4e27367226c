/**
 * Text from outside the task (kubectl output, run command logs, Azure and Kubernetes error
 * messages) must not become an agent command when the task prints it.
 *
 * What the agent recognises (microsoft/azure-pipelines-agent):
 * - Logging commands: src/Microsoft.VisualStudio.Services.Agent/Command.cs `TryParse` looks for
 *   `##vso[` with `message.IndexOf(...)`, i.e. ANYWHERE in an output line, not only at its start,
 *   and src/Agent.Worker/Handlers/NodeHandler.cs hands every stdout line of a task to it.
 *   `string.IndexOf(string)` compares with the current culture, which skips zero-width and other
 *   ignorable characters, so `#<U+200B>#vso[` is treated here like `##vso[`.
 * - Formatting commands: `##[group]`, `##[endgroup]`, `##[section]`, `##[command]`, `##[error]`,
 *   `##[warning]`, `##[debug]` (src/Agent.Worker/ExecutionContext.cs WellKnownTags,
 *   src/Microsoft.VisualStudio.Services.Agent/Logging.cs, which matches `##[group]` with
 *   `Contains(..., OrdinalIgnoreCase)`).
 *
 * The text is kept readable: a space goes between `##` and the rest (`## vso[`, `## [`), which no
 * prefix match accepts. Case is ignored, as the log's tag matching ignores it.
 */
const INVISIBLE = '[\\p{Cf}\\p{Cc}]*';
const COMMAND_PREFIX = new RegExp(`#${INVISIBLE}#${INVISIBLE}(?:(v)${INVISIBLE}(s)${INVISIBLE}(o)${INVISIBLE})?\\[`, 'giu');

export function neutralizeLoggingCommands(text: string): string {
  if (!text.includes('#')) return text;
  return text.replace(COMMAND_PREFIX, (_match, v?: string, s?: string, o?: string) => (v ? `## ${v}${s}${o}[` : '## ['));
}
