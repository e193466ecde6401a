// Chat templates: the default one's text, a model's Jinja template rendered as transformers would, and
// templates that loop, recurse or blow up failing with BAD_TEMPLATE in bounded time (and so bounded memory).
import { describe, expect, it } from 'vitest';
import { ChatTemplate, DEFAULT_CHAT_TEMPLATE, checkMessages } from '../../src/chat/template.js';
import { thrownBy } from '../util/errors.js';

const CHATML =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const MESSAGES = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'Hi' },
  { role: 'assistant' as const, content: 'Hello.' },
  { role: 'user' as const, content: 'Who are you?' },
];

describe('chat templates', () => {
  it('the default template is a plain transcript ending with the prompt for the reply', () => {
    const t = new ChatTemplate(DEFAULT_CHAT_TEMPLATE);
    expect(t.isDefault).toBe(true);
    expect(t.render(MESSAGES)).toBe('Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Who are you?\n\nAssistant:');
    expect(t.render(MESSAGES, { addGenerationPrompt: false })).toBe('Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: Who are you?\n\n');
  });

  it('renders a ChatML template as transformers does, with bos_token and loops', () => {
    const t = new ChatTemplate(CHATML);
    expect(t.isDefault).toBe(false);
    expect(t.render(MESSAGES.slice(0, 2))).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(new ChatTemplate('{{ bos_token }}{% for m in messages %}[{{ loop.index }}:{{ m.content | upper }}]{% endfor %}').render(MESSAGES, { bosToken: '<s>' })).toBe('<s>[1:BE BRIEF.][2:HI][3:HELLO.][4:WHO ARE YOU?]');
  });

  it('refuses a template that does not parse, and passes raise_exception on', () => {
    const e = thrownBy(() => new ChatTemplate('{% for m in messages %}', 'test.jinja'));
    expect(e.code).toBe('BAD_TEMPLATE');
    expect(e.message).toMatch(/test\.jinja does not parse/);
    const r = thrownBy(() => new ChatTemplate("{{ raise_exception('only user and assistant roles') }}").render(MESSAGES));
    expect(r.code).toBe('BAD_TEMPLATE');
    expect(r.message).toMatch(/refused the messages: only user and assistant roles/);
  });

  const hostile: Array<[string, string, RegExp]> = [
    ['a loop over range(10**9)', '{% for i in range(10**9) %}x{% endfor %}', /passes 1000000000/],
    ['nested loops of 10^5 x 10^5', '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}', /steps|ms/],
    ['a string doubled in a loop', "{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}", /string of \d+ characters/],
    ['a list doubled in a loop', '{% set ns = namespace(l=[1]) %}{% for i in range(64) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}', /list of \d+ items/],
    ['a macro that calls itself', '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}', /recurses|steps/],
    ['indent by a billion', "{{ 'a\\nb' | indent(10**9) }}", /passes 1000000000/],
    ['tojson with a huge indent', '{{ messages | tojson(indent=10**8) }}', /passes 100000000/],
    ['join of a big list of big strings', "{% set ns = namespace(s='0123456789') %}{% for i in range(18) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{% set ns2 = namespace(l=[]) %}{% for i in range(2000) %}{% set ns2.l = ns2.l + [ns.s] %}{% endfor %}{{ ns2.l | join('') }}", /joins \d+ characters/],
    ['replace that multiplies', "{% set ns = namespace(s='0123456789') %}{% for i in range(17) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s.replace('', ns.s) }}", /replaces into/],
  ];
  for (const [what, source, message] of hostile) {
    it(`stops ${what} in bounded time with BAD_TEMPLATE`, () => {
      const t0 = performance.now();
      const e = thrownBy(() => new ChatTemplate(source).render(MESSAGES));
      expect(performance.now() - t0).toBeLessThan(15_000); // the budget is 2 s; a shared machine is slow
      expect(e.code, e.message).toBe('BAD_TEMPLATE');
      expect(e.message).toMatch(message);
    });
  }

  it('checks messages: roles, content, count', () => {
    expect(thrownBy(() => checkMessages([])).message).toMatch(/empty/);
    expect(thrownBy(() => checkMessages([{ role: 'tool', content: 'x' }])).message).toMatch(/messages\[0\]\.role/);
    expect(thrownBy(() => checkMessages([{ role: 'user', content: 5 }])).message).toMatch(/messages\[0\]\.content must be a string/);
    expect(thrownBy(() => checkMessages(new Array(5000).fill({ role: 'user', content: '' }))).message).toMatch(/at most 4096/);
  });
});
