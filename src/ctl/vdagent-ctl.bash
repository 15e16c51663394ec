# SPDX-License-Identifier: GPL-3.0-or-later
# bash completion for vdagent-ctl (installed by meson into bash-completion's completions directory)
_vdagent_ctl()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    case $prev in
        --control)
            COMPREPLY=($(compgen -f -- "$cur"))
            return
            ;;
        --selection)
            COMPREPLY=($(compgen -W "clipboard primary" -- "$cur"))
            return
            ;;
        --buttons)
            # A comma-separated list: complete its last element.
            local head="" last=$cur
            if [[ $cur == *,* ]]; then
                head=${cur%,*},
                last=${cur##*,}
            fi
            COMPREPLY=($(compgen -P "$head" -W "left middle right up down side extra" -- "$last"))
            compopt -o nospace 2>/dev/null
            return
            ;;
        --display)
            return
            ;;
    esac

    # The command and how many arguments it has so far.
    local cmd="" nargs=0 i
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --control | --selection | --buttons | --display) ((i++)) ;;
            -*) ;;
            *)
                if [[ -z $cmd ]]; then
                    cmd=${words[i]}
                else
                    ((nargs++))
                fi
                ;;
        esac
    done

    local global="--control --json --help --version"
    case $cmd in
        "") COMPREPLY=($(compgen -W "status sessions caps monitor mouse monitors clipboard $global" -- "$cur")) ;;
        status | sessions | caps) COMPREPLY=($(compgen -W "--json" -- "$cur")) ;;
        monitor) COMPREPLY=($(compgen -W "--hex --json" -- "$cur")) ;;
        mouse) [[ $cur == -* ]] && COMPREPLY=($(compgen -W "--display --buttons" -- "$cur")) ;;
        monitors) COMPREPLY=($(compgen -W "off" -- "$cur")) ;;
        clipboard)
            if ((nargs == 0)); then
                COMPREPLY=($(compgen -W "set get" -- "$cur"))
            elif [[ $cur == -* || $prev == get ]]; then
                COMPREPLY=($(compgen -W "--selection" -- "$cur"))
            fi
            ;;
    esac
}
complete -F _vdagent_ctl vdagent-ctl
