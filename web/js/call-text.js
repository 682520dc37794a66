// @ts-check
/**
 * The words of the call page, by language. Every word a family sees is here,
 * so translating the page means adding one table.
 */

/** Every word a family sees, by language; the page picks the browser's language when it has it. */
export const TEXT = {
  en: {
    connecting: 'Connecting…',
    reconnecting: 'Connection lost. Reconnecting…',
    'host-absent': 'Please wait: your worker has not joined yet.',
    'awaiting-admission': 'Please wait: your worker will let you in shortly.',
    'sent-back': 'You are back in the waiting room. Please wait.',
    'in-call': 'You are in the session.',
    'turned-away': 'Your worker could not let you in this time.',
    'session-ended': 'The session has ended. Thank you.',
    removed: 'You have left the session.',
    replaced: 'You joined from another device, so this one has left.',
    'not-authenticated': 'This link does not work any more. Please ask your worker for a new one.',
    'no-token': 'This page needs your personal link. Please open the link you were sent.',
    'no-camera': 'Your camera or microphone could not be started. Others can still see and hear you if you allow it.',
    ended: 'You are no longer connected.',
    you: 'You',
    waitingList: 'Waiting to join',
    admit: 'Admit',
    turnAway: 'Turn away',
    consentMissing: 'consent not on record',
    child: 'child',
    safetyCode: 'Safety code',
    micOn: 'Mute microphone',
    micOff: 'Unmute microphone',
    cameraOn: 'Turn camera off',
    cameraOff: 'Turn camera on',
    shareScreen: 'Share screen',
    stopScreen: 'Stop sharing',
    leave: 'Leave',
    endSession: 'End session for everyone',
    enableSound: 'Tap to hear the others',
    screenOf: 'Screen',
    talkAlone: 'Talk alone',
    together: 'Back to everyone',
    inSideRoom: 'You are talking in a smaller group.',
    weakConnection: 'Your connection is weak, so your video is paused. Everyone can still hear you.',
    videoBack: 'Your connection is better: your video is back.',
    testingConnection: 'Testing your connection…',
    'verdict-good': 'Connection test: good.',
    'verdict-audio-only': 'Connection test: video may freeze, so we will start with audio only.',
    'verdict-no-connection': 'Connection test: no connection. Please try another network.',
  },
  pt: {
    connecting: 'A ligar…',
    reconnecting: 'A ligação falhou. A ligar de novo…',
    'host-absent': 'Aguarde: o seu técnico ainda não entrou.',
    'awaiting-admission': 'Aguarde: o seu técnico vai deixá-lo entrar em breve.',
    'sent-back': 'Voltou à sala de espera. Aguarde, por favor.',
    'in-call': 'Está na sessão.',
    'turned-away': 'O seu técnico não o pôde deixar entrar desta vez.',
    'session-ended': 'A sessão terminou. Obrigado.',
    removed: 'Saiu da sessão.',
    replaced: 'Entrou noutro aparelho, por isso este saiu.',
    'not-authenticated': 'Esta ligação já não funciona. Peça uma nova ao seu técnico.',
    'no-token': 'Esta página precisa da sua ligação pessoal. Abra a ligação que recebeu.',
    'no-camera': 'Não foi possível ligar a câmara ou o microfone.',
    ended: 'Já não está ligado.',
    you: 'Eu',
    waitingList: 'À espera para entrar',
    admit: 'Deixar entrar',
    turnAway: 'Recusar',
    consentMissing: 'sem consentimento registado',
    child: 'criança',
    safetyCode: 'Código de segurança',
    micOn: 'Desligar microfone',
    micOff: 'Ligar microfone',
    cameraOn: 'Desligar câmara',
    cameraOff: 'Ligar câmara',
    shareScreen: 'Partilhar ecrã',
    stopScreen: 'Parar partilha',
    leave: 'Sair',
    endSession: 'Terminar a sessão para todos',
    enableSound: 'Toque para ouvir os outros',
    screenOf: 'Ecrã',
    talkAlone: 'Falar a sós',
    together: 'Voltar a todos',
    inSideRoom: 'Está a falar num grupo mais pequeno.',
    weakConnection: 'A sua ligação está fraca, por isso o seu vídeo está em pausa. Todos continuam a ouvi-lo.',
    videoBack: 'A sua ligação melhorou: o seu vídeo voltou.',
    testingConnection: 'A testar a sua ligação…',
    'verdict-good': 'Teste da ligação: boa.',
    'verdict-audio-only': 'Teste da ligação: o vídeo pode falhar, por isso começamos só com som.',
    'verdict-no-connection': 'Teste da ligação: sem ligação. Tente outra rede.',
  },
};

/** 'pt' for browsers set to Portuguese, otherwise 'en'. */
export const language = navigator.language?.toLowerCase().startsWith('pt') ? 'pt' : 'en';

/**
 * The page's word for `key`, in English where its language lacks one.
 * @param {keyof typeof TEXT.en} key
 */
export function t(key) {
  return TEXT[language][key] ?? TEXT.en[key];
}
