# bash completion for vdagent-ctl
_vdagent_ctl()
{
    local cur prev words cword
    _init_completion 2>/dev/null || {
        cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD
    }
    case $prev in
        --control) COMPREPLY=($(compgen -f -- "$cur")); return ;;
        --selection) COMPREPLY=($(compgen -W "clipboard primary" -- "$cur")); return ;;
        --buttons) COMPREPLY=($(compgen -W "left middle right up down side extra" -- "$cur")); return ;;
        --display) return ;;
    esac
    local cmd="" i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --control|--selection|--buttons|--display) ((i++)) ;;
            -*) ;;
            *) cmd=${words[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "status sessions caps monitor mouse monitors clipboard --json --control --help --version" -- "$cur"))
        return
    fi
    case $cmd in
        status|sessions|caps) COMPREPLY=($(compgen -W "--json --control" -- "$cur")) ;;
        monitor) COMPREPLY=($(compgen -W "--hex --json --control" -- "$cur")) ;;
        mouse) COMPREPLY=($(compgen -W "--display --buttons" -- "$cur")) ;;
        clipboard) COMPREPLY=($(compgen -W "set get --selection" -- "$cur")) ;;
    esac
}
complete -F _vdagent_ctl vdagent-ctl
