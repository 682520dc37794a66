// @ts-check
/** The front page's words, in European Portuguese and English. */

export const FRONT_TEXT = {
  pt: {
    title: 'telepractice',
    about: 'Sessões de vídeo seguras para o trabalho social com famílias, no servidor da sua própria organização.',
    familyLink: 'Se recebeu uma ligação pessoal para uma sessão, abra essa ligação: ela leva-o à sua sessão.',
    staff: 'Equipa: entrar na consola',
    languages: 'Língua',
  },
  en: {
    title: 'telepractice',
    about: "Secure video sessions for social work with families, run on your organisation's own server.",
    familyLink: 'If you were sent a personal link for a session, open that link: it takes you to your session.',
    staff: 'Staff: log in to the console',
    languages: 'Language',
  },
};
