// @ts-check
/** "My cases" (workers) and the team's cases (supervisors): one row per case from /api/cases/overview. */
import { h, table } from './dom.js';
import { contactFlag, when } from './format.js';
import { errorLine, viewHeading } from './common.js';

/**
 * @typedef {import('./common.js').Context} Context
 * @typedef {{reference: string, risk_level: string, last_contact: string|null,
 *   next_session: {id: string, planned_start: string}|null, required_per_week: number,
 *   held_last_week: number, held_this_week: number, behind: boolean, behind_so_far: boolean}} CaseRow
 */

/**
 * The flag of a case in words, marked so it is seen without colour too.
 * @param {Context} ctx
 * @param {CaseRow} row
 */
export function flagCell(ctx, row) {
  const flag = contactFlag(row);
  return h('span', { class: `flag flag-${flag}`, 'data-flag': flag },
    ctx.t(`flag.${flag}`, { held: row.held_this_week, required: row.required_per_week }));
}

/**
 * The cases table; each reference links to the case.
 * @param {Context} ctx
 * @param {CaseRow[]} rows
 * @param {string} caption
 */
export function casesTable(ctx, rows, caption) {
  const { t } = ctx;
  const language = ctx.language();
  return table(caption,
    [t('cases.reference'), t('cases.risk'), t('cases.last-contact'), t('cases.next-contact'), t('cases.contacts')],
    rows.map((row) => [
      h('a', { href: `#/case/${encodeURIComponent(row.reference)}`, 'data-case': row.reference }, row.reference),
      h('span', { class: `risk risk-${row.risk_level}` }, t(`risk.${row.risk_level}`)),
      when(row.last_contact, language, t('cases.none-yet')),
      row.next_session ? when(row.next_session.planned_start, language) : t('cases.none-planned'),
      flagCell(ctx, row),
    ]));
}

/**
 * @param {Context} ctx
 * @returns {Promise<CaseRow[]>}
 */
export async function loadOverview(ctx) {
  const body = await ctx.api.request('GET', '/api/cases/overview');
  return body.cases;
}

/** @param {Context} ctx */
export async function myCasesView(ctx) {
  const { t } = ctx;
  const errors = errorLine(t);
  const section = h('section', { class: 'view', 'aria-labelledby': 'view-title' },
    viewHeading(t('cases.title')), errors.element);
  try {
    const rows = await loadOverview(ctx);
    const behind = rows.filter((row) => row.behind).length;
    section.append(
      h('p', { class: 'summary' }, behind ? t('cases.behind-summary', { count: behind }) : t('cases.all-on-track')),
      rows.length ? casesTable(ctx, rows, t('cases.caption')) : h('p', {}, t('cases.empty')),
      h('p', { class: 'hint' }, t('cases.rule')));
  } catch (error) {
    errors.show(error);
  }
  return section;
}
